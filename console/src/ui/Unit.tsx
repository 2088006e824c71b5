// The patrol unit's phone: every open dispatch with its place, snapshot and recorded clip, and
// one large button for the next receipt (accepted → arrived → closed). Built for one hand in a
// moving car: the place is the biggest text, the button spans the width.

import { sendReceipt } from '../actions';
import { formatClock } from '../lib/format';
import { geoUri, nextReceipt, sortedTasks, type UnitTask } from '../lib/unit';
import { hotspotLabel, severityLabel } from '../labels';
import { myUnit, queueLoaded, sending, t, taskErrors, tasks } from '../store';

const DO = {
  accepted: 'unit.do.accepted',
  arrived: 'unit.do.arrived',
  closed: 'unit.do.closed',
} as const;

function Steps({ task }: { task: UnitTask }) {
  const steps = [
    ['unit.step.delivered', task.delivered],
    ['unit.step.accepted', task.accepted],
    ['unit.step.arrived', task.arrived],
  ] as const;
  return (
    <ol class="steps" aria-label={t.value('unit.steps')}>
      {steps.map(([key, done]) => (
        <li key={key} class={done ? 'step step-done' : 'step'}>
          <span aria-hidden="true">{done ? '✓' : '○'}</span> {t.value(key)}
        </li>
      ))}
    </ol>
  );
}

function Task({ task }: { task: UnitTask }) {
  const a = task.alert;
  const next = nextReceipt(task);
  const busy = sending.value.has(a.id);
  const err = taskErrors.value.get(a.id);
  const place = a.place ?? hotspotLabel(a.hotspot);
  return (
    <li class="card task" id={`task-${a.id}`} data-alert={a.id}>
      <p class="task-head">
        <span class={`sev-badge sev-${a.severity}`}>{severityLabel(a.severity)}</span>
        <span class="muted">
          {t.value('unit.dispatched')} <bdi>{formatClock(task.dispatchedAt)}</bdi>
        </span>
      </p>
      <h2 class="task-place">
        <bdi>{place}</bdi>
      </h2>
      {task.text && (
        <p class="task-text" dir="auto">
          {task.text}
        </p>
      )}
      <Steps task={task} />
      {err && (
        <p class="error" role="alert">
          {err}
        </p>
      )}
      <button
        type="button"
        class={`btn btn-primary btn-huge receipt-${next}`}
        disabled={busy}
        onClick={() => void sendReceipt(a.id, next)}
      >
        {t.value(DO[next])}
      </button>
      {a.location && (
        <p class="task-where">
          <a class="btn" href={geoUri(a.location.lat, a.location.lon)}>
            {t.value('unit.navigate')}
          </a>
          <span class="muted">
            {t.value('unit.coords')}{' '}
            <bdi class="mono">
              {a.location.lat.toFixed(5)}, {a.location.lon.toFixed(5)}
            </bdi>
          </span>
        </p>
      )}
      {a.snapshot !== null && (
        <img
          class="task-snapshot"
          src={`/api/units/me/alerts/${encodeURIComponent(a.id)}/snapshot`}
          alt={t.value('unit.snapshot')}
        />
      )}
      {a.clip !== null && (
        <details class="task-clip">
          <summary>{t.value('unit.clip')}</summary>
          <video class="task-video" controls preload="none" playsInline src={a.clip} />
        </details>
      )}
    </li>
  );
}

export function UnitPage() {
  const list = sortedTasks(tasks.value);
  const me = myUnit.value;
  return (
    <main id="main" class="unit-page" tabIndex={-1} aria-labelledby="unit-title">
      <h1 id="unit-title" class="page-title">
        {t.value('unit.title')}
        {me && (
          <span class="muted unit-name">
            {' '}
            <bdi>{me.name}</bdi>
          </span>
        )}
      </h1>
      {!queueLoaded.value ? (
        <p class="muted">{t.value('app.loading')}</p>
      ) : list.length === 0 ? (
        <p class="empty">{t.value('unit.empty')}</p>
      ) : (
        <ol class="tasks">
          {list.map((task) => (
            <Task key={task.alert.id} task={task} />
          ))}
        </ol>
      )}
    </main>
  );
}
