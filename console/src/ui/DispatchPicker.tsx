// The dispatch picker of an alert: units from `GET /api/units?alert=ID`, the nearest available
// ones first (the server's suggestion), the nearest chosen by default.

import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import { dispatch, unitsFor } from '../actions';
import type { AlertSummary, UnitsView } from '../lib/alerts';
import { formatDistance, isolate } from '../lib/format';
import { unitKindLabel } from '../labels';
import { busy, dispatchFor, t } from '../store';
import { focusCard } from './ids';
import { ErrorText } from './ErrorText';

function unitStatus(s: string): string {
  if (s === 'available') return t.value('unit.available');
  if (s === 'busy') return t.value('unit.busy');
  if (s === 'off_duty') return t.value('unit.offDuty');
  return s;
}

export function DispatchPicker({ a }: { a: AlertSummary }) {
  const units = useSignal<UnitsView | null>(null);
  const error = useSignal<string | null>(null);
  const choice = useSignal('');
  const text = useSignal('');
  const select = useRef<HTMLSelectElement>(null);
  useEffect(() => {
    let live = true;
    void unitsFor(a.id).then((r) => {
      if (!live) return;
      if (typeof r === 'string') {
        error.value = r;
        return;
      }
      units.value = r;
      const first = r.suggested?.[0]?.unit ?? r.units.find((u) => u.status === 'available')?.id ?? '';
      choice.value = first;
      requestAnimationFrame(() => select.current?.focus());
    });
    return () => {
      live = false;
    };
  }, [a.id]);

  const close = () => {
    dispatchFor.value = null;
    focusCard(a.id);
  };
  const id = `dispatch-${a.id}`;
  const v = units.value;
  const dist = new Map((v?.suggested ?? []).map((s) => [s.unit, s.distance_m]));
  // Suggested units first (nearest first), then the rest by name.
  const ordered = v
    ? [
        ...(v.suggested ?? []).flatMap((s) => v.units.filter((u) => u.id === s.unit)),
        ...v.units
          .filter((u) => !dist.has(u.id))
          .sort((x, y) => x.name.localeCompare(y.name)),
      ]
    : [];
  return (
    <form
      class="dispatch"
      onSubmit={(e) => {
        e.preventDefault();
        if (!choice.value) return;
        void dispatch(a.id, [choice.value], text.value).then((ok) => {
          if (ok) focusCard(a.id);
        });
      }}
      onKeyDown={(e) => {
        if (e.key === 'Escape') {
          e.preventDefault();
          close();
        }
      }}
    >
      <label for={id}>{t.value('dispatch.label')}</label>
      <ErrorText message={error.value} />
      {v === null && error.value === null && <p class="muted">{t.value('dispatch.loading')}</p>}
      {v !== null && (
        <>
          {ordered.length === 0 ? (
            <p class="muted">{t.value('dispatch.none')}</p>
          ) : (
            <select
              id={id}
              ref={select}
              value={choice.value}
              onChange={(e) => (choice.value = (e.currentTarget as HTMLSelectElement).value)}
            >
              {ordered.map((u) => {
                const d = dist.get(u.id);
                const far = d === undefined ? null : formatDistance(d);
                return (
                  <option key={u.id} value={u.id}>
                    {far
                      ? t.value(far.unit === 'km' ? 'dispatch.optionNearKm' : 'dispatch.optionNearM', {
                          name: isolate(`${u.name} (${unitKindLabel(u.kind)})`),
                          status: unitStatus(u.status),
                          distance: isolate(far.value),
                        })
                      : t.value('dispatch.option', {
                          name: isolate(`${u.name} (${unitKindLabel(u.kind)})`),
                          status: unitStatus(u.status),
                        })}
                  </option>
                );
              })}
            </select>
          )}
          <label for={`${id}-text`}>{t.value('dispatch.text')}</label>
          <input
            id={`${id}-text`}
            class="dispatch-text"
            type="text"
            dir="auto"
            maxLength={280}
            value={text.value}
            onInput={(e) => (text.value = (e.currentTarget as HTMLInputElement).value)}
          />
          <p class="hint">{t.value('dispatch.textHint')}</p>
          <div class="dispatch-buttons">
            <button
              type="submit"
              class="btn btn-primary"
              disabled={!choice.value || busy.value.has(a.id)}
            >
              {t.value('dispatch.send')}
            </button>
            <button type="button" class="btn btn-quiet" onClick={close}>
              {t.value('dispatch.cancel')}
            </button>
          </div>
        </>
      )}
    </form>
  );
}
