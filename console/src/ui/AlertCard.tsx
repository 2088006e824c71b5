// One alert of the queue: severity (word and colour), hotspot, cameras, kind, age, the countdown
// to escalation, who holds it, and the actions with their keyboard letters. The selected card
// also shows the note field and, when open, the dispatch picker.
//
// Server strings (names, ids, messages) are text nodes; ids, times and names are isolated in
// <bdi> so right-to-left text never reorders them.

import { act, openDetail, sendNote } from '../actions';
import {
  ACTIONS,
  type ActionName,
  type AlertSummary,
  escalationRuns,
  mayAct,
} from '../lib/alerts';
import { countdown, formatAge, shortId } from '../lib/format';
import { actionKey, SHORTCUTS } from '../lib/labels';
import {
  cameraLabel,
  claimerLabel,
  hotspotLabel,
  kindsOf,
  severityLabel,
  stateLabel,
} from '../labels';
import {
  armed,
  busy,
  dispatchFor,
  drafts,
  nowUs,
  rowErrors,
  selectedId,
  session,
  setDraft,
  t,
} from '../store';
import { DispatchPicker } from './DispatchPicker';
import { cardId, noteId } from './ids';
import { ErrorText } from './ErrorText';

/** Runs an action from a button or a shortcut. */
export function trigger(a: AlertSummary, action: ActionName): void {
  if (action === 'dispatch') {
    dispatchFor.value = dispatchFor.value === a.id ? null : a.id;
    return;
  }
  if (action === 'note') {
    selectedId.value = a.id;
    // The field exists once the card is selected (next render).
    requestAnimationFrame(() => document.getElementById(noteId(a.id))?.focus());
    return;
  }
  void act(a.id, action);
}

function Countdown({ a }: { a: AlertSummary }) {
  if (a.state === 'escalated') return <span class="tag tag-escalated">{t.value('card.escalated')}</span>;
  if (!escalationRuns(a.state)) return <span class="muted">{t.value('card.noDeadline')}</span>;
  const c = countdown(a.escalates_at, nowUs.value);
  if (!c) return <span class="muted">—</span>;
  return c.overdue ? (
    <span class="countdown overdue">
      {t.value('card.overdue')} <bdi>{c.text}</bdi>
    </span>
  ) : (
    <span class="countdown">
      <bdi>{c.text}</bdi>
    </span>
  );
}

function ActionButton({ a, action }: { a: AlertSummary; action: ActionName }) {
  const me = session.value;
  const allowed = !!me && mayAct(action, a.state, a.claimed_by, me);
  const isArmed = armed.value?.id === a.id && armed.value.action === action;
  const label = isArmed
    ? t.value(action === 'resolve' ? 'confirm.resolveButton' : 'confirm.falseAlarmButton')
    : t.value(actionKey(action));
  const sc = SHORTCUTS[action];
  return (
    <button
      type="button"
      class={`btn btn-action action-${action}${isArmed ? ' armed' : ''}`}
      disabled={!allowed || busy.value.has(a.id)}
      aria-keyshortcuts={sc.letter}
      aria-expanded={action === 'dispatch' ? dispatchFor.value === a.id : undefined}
      onClick={(e) => {
        e.stopPropagation();
        selectedId.value = a.id;
        trigger(a, action);
      }}
    >
      <span>{label}</span>
      <kbd aria-hidden="true">{sc.letter}</kbd>
    </button>
  );
}

function NoteField({ a }: { a: AlertSummary }) {
  const id = noteId(a.id);
  const text = drafts.value.get(a.id) ?? '';
  return (
    <form
      class="note"
      onSubmit={(e) => {
        e.preventDefault();
        void sendNote(a.id);
      }}
    >
      <label for={id}>{t.value('note.label')}</label>
      <textarea
        id={id}
        dir="auto"
        rows={2}
        maxLength={2000}
        value={text}
        aria-describedby={`${id}-hint`}
        onInput={(e) => setDraft(a.id, (e.currentTarget as HTMLTextAreaElement).value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
            e.preventDefault();
            void sendNote(a.id);
          }
        }}
      />
      <p id={`${id}-hint`} class="hint">
        {t.value('note.hint')}
      </p>
      <button type="submit" class="btn" disabled={busy.value.has(a.id) || text.trim() === ''}>
        {t.value('note.send')}
      </button>
    </form>
  );
}

export function AlertCard({ a, index }: { a: AlertSummary; index: number }) {
  const selected = selectedId.value === a.id;
  const err = rowErrors.value.get(a.id);
  const kinds = kindsOf(a);
  const titleId = `${cardId(a.id)}-title`;
  return (
    <li class="queue-item">
      <article
        id={cardId(a.id)}
        class={`card alert sev-${a.severity}${selected ? ' selected' : ''}`}
        tabIndex={selected || (selectedId.value === null && index === 0) ? 0 : -1}
        aria-labelledby={titleId}
        aria-current={selected ? 'true' : undefined}
        onClick={() => (selectedId.value = a.id)}
        onFocus={(e) => {
          if (e.target === e.currentTarget) selectedId.value = a.id;
        }}
        onDblClick={() => openDetail(a.id)}
      >
        <header class="alert-head">
          <span class={`sev-badge sev-${a.severity}`}>{severityLabel(a.severity)}</span>
          <h2 id={titleId} class="alert-title">
            <bdi>{hotspotLabel(a.hotspot)}</bdi>
            {kinds.length > 0 && (
              <span class="alert-kind">
                {' · '}
                {kinds.join(', ')}
              </span>
            )}
          </h2>
          <span class="state">{stateLabel(a.state)}</span>
        </header>
        <dl class="facts">
          <div>
            <dt>{t.value('card.age')}</dt>
            <dd>
              <bdi>{formatAge(a.created_at, nowUs.value)}</bdi>
            </dd>
          </div>
          <div>
            <dt>{t.value('card.escalatesIn')}</dt>
            <dd>
              <Countdown a={a} />
            </dd>
          </div>
          <div>
            <dt>{t.value('card.cameras')}</dt>
            <dd>
              {a.cameras.length === 0
                ? '—'
                : a.cameras.map((c, i) => (
                    <>
                      {i > 0 && ', '}
                      <bdi>{cameraLabel(c)}</bdi>
                    </>
                  ))}
            </dd>
          </div>
          <div>
            <dt>{t.value('card.claimedBy')}</dt>
            <dd>
              {a.claimed_by === null ? (
                <span class="muted">{t.value('card.unclaimed')}</span>
              ) : (
                <bdi>{claimerLabel(a.claimed_by)}</bdi>
              )}
            </dd>
          </div>
          <div>
            <dt>{t.value('card.id')}</dt>
            <dd>
              <bdi class="mono">{shortId(a.id)}</bdi>
            </dd>
          </div>
        </dl>
        <div class="actions" role="group" aria-label={t.value('card.actions')}>
          {ACTIONS.map((action) => (
            <ActionButton key={action} a={a} action={action} />
          ))}
          <button
            type="button"
            class="btn btn-quiet"
            onClick={(e) => {
              e.stopPropagation();
              openDetail(a.id);
            }}
          >
            {t.value('card.details')}
            <kbd aria-hidden="true">↵</kbd>
          </button>
        </div>
        <ErrorText message={err} />
        {dispatchFor.value === a.id && <DispatchPicker a={a} />}
        {selected && <NoteField a={a} />}
      </article>
    </li>
  );
}
