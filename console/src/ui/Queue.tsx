// The alert queue page: every open alert, most important first, operable from the keyboard.
//
// Keys (layout-independent, by `KeyboardEvent.code`): ↓ / J next, ↑ / K previous, Home / End,
// Enter details, Escape close; C claim, A acknowledge, D dispatch, N note, R resolve,
// F false alarm, E escalate (R and F ask for a second press). Keys typed into a field stay
// there.

import { useEffect } from 'preact/hooks';
import { closeDetail, openDetail } from '../actions';
import { ACTIONS, sortedQueue } from '../lib/alerts';
import { MOVE_KEYS, SHORTCUTS } from '../lib/labels';
import { armed, detailId, dispatchFor, queue, queueLoaded, selectedId, t } from '../store';
import { AlertCard, trigger } from './AlertCard';
import { cardId, focusCard } from './ids';
import { Details } from './Details';

function isField(el: EventTarget | null): boolean {
  if (!(el instanceof HTMLElement)) return false;
  return (
    el instanceof HTMLInputElement ||
    el instanceof HTMLTextAreaElement ||
    el instanceof HTMLSelectElement ||
    el.isContentEditable
  );
}

function onKey(e: KeyboardEvent): void {
  if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
  const list = sortedQueue(queue.value);
  const sel = selectedId.value;
  const i = sel === null ? -1 : list.findIndex((a) => a.id === sel);
  const current = i >= 0 ? list[i] : undefined;
  if (e.key === 'Escape') {
    if (isField(e.target) && current) {
      e.preventDefault();
      focusCard(current.id);
      return;
    }
    if (armed.value) armed.value = null;
    else if (dispatchFor.value) dispatchFor.value = null;
    else if (detailId.value) {
      const id = detailId.value;
      closeDetail();
      focusCard(id);
    }
    return;
  }
  if (isField(e.target)) return;
  const move = (to: number) => {
    const a = list[Math.max(0, Math.min(list.length - 1, to))];
    if (!a) return;
    e.preventDefault();
    selectedId.value = a.id;
    focusCard(a.id);
  };
  switch (e.code) {
    case 'ArrowDown':
    case 'KeyJ':
      move(i + 1);
      return;
    case 'ArrowUp':
    case 'KeyK':
      move(i < 0 ? 0 : i - 1);
      return;
    case 'Home':
      move(0);
      return;
    case 'End':
      move(list.length - 1);
      return;
  }
  // Enter on a button or a link is that control's; elsewhere it opens the details.
  if (e.key === 'Enter') {
    const el = e.target as HTMLElement | null;
    if (el && (el.closest('button') || el.closest('a'))) return;
    if (current) {
      e.preventDefault();
      openDetail(current.id);
    }
    return;
  }
  if (!current) return;
  const action = ACTIONS.find((x) => SHORTCUTS[x].code === e.code);
  if (action && !e.shiftKey) {
    e.preventDefault();
    const button = document.querySelector<HTMLButtonElement>(
      `#${CSS.escape(cardId(current.id))} .action-${action}`,
    );
    // The shortcut does what the button does, and nothing when the button is disabled.
    if (button && !button.disabled) trigger(current, action);
  }
}

/** The keyboard summary; each key is an isolated <kbd>, so right-to-left text keeps them in
 * place. */
function KeysHint() {
  return (
    <ul class="hint keys-hint" aria-label={t.value('keys.title')}>
      {(['next', 'previous'] as const).map((dir) => (
        <li key={dir}>
          {MOVE_KEYS[dir].map((k) => (
            <kbd key={k}>{k}</kbd>
          ))}{' '}
          {t.value(dir === 'next' ? 'keys.next' : 'keys.previous')}
        </li>
      ))}
      <li>
        <kbd>{t.value('key.enter')}</kbd> {t.value('keys.details')}
      </li>
      <li>
        <kbd>{t.value('key.escape')}</kbd> {t.value('keys.close')}
      </li>
      <li>{t.value('keys.letters')}</li>
    </ul>
  );
}

/** Where the selection was in the list, so a vanished alert hands it to its neighbour. */
let lastIndex = 0;

export function Queue() {
  useEffect(() => {
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);
  const list = sortedQueue(queue.value);
  // Keep a selection on screen: when the selected alert left the queue, its neighbour.
  const sel = selectedId.value;
  const at = sel === null ? -1 : list.findIndex((a) => a.id === sel);
  if (at >= 0) lastIndex = at;
  else if (list.length > 0) {
    const next = list[Math.min(lastIndex, list.length - 1)];
    if (next) {
      queueMicrotask(() => {
        selectedId.value = next.id;
        // Focus was on the card that left: give it to the new selection.
        if (document.activeElement === document.body) focusCard(next.id);
      });
    }
  }
  return (
    <div class={detailId.value !== null ? 'layout with-details' : 'layout'}>
      <main id="main" class="queue-page" tabIndex={-1} aria-labelledby="queue-title">
        <div class="queue-head">
          <h1 id="queue-title">{t.value('queue.title')}</h1>
          <p class="muted">
            {queueLoaded.value ? t.value('queue.count', { n: list.length }) : t.value('queue.loading')}
          </p>
          <KeysHint />
        </div>
        {queueLoaded.value && list.length === 0 ? (
          <p class="empty">{t.value('queue.empty')}</p>
        ) : (
          <ol class="queue" aria-labelledby="queue-title">
            {list.map((a, index) => (
              <AlertCard key={a.id} a={a} index={index} />
            ))}
          </ol>
        )}
      </main>
      {detailId.value !== null && <Details />}
    </div>
  );
}
