// The integrator's pages: the cameras with their stream health, adding one by its RTSP URL and
// turning its analysis on or off (`#/cameras`); ONVIF discovery with approval (the main and sub
// profiles chosen from the device's own) and dismissal (`#/onvif`); webhook subscriptions with
// their delivery logs (`#/webhooks`, admins only, as the server requires).
//
// Invariants:
// - a refused form keeps everything typed and shows the server's message next to the field it
//   names (else at the form's end), and focus moves to that field;
// - a device is added only with the profiles shown to the integrator: they are read from the
//   device with the login typed, and the choice is sent with the approval;
// - the health table is read again every few seconds; nothing else polls.

import { useSignal } from '@preact/signals';
import { useEffect, useState } from 'preact/hooks';
import {
  addCamera,
  analysisOf,
  approveDevice,
  cameraHealth,
  createWebhook,
  deleteWebhook,
  deviceProfiles,
  discover,
  discoveredDevices,
  dismissDevice,
  type FormError,
  setAnalysis,
  setWebhookEnabled,
  webhookDeliveries,
  webhookList,
} from '../actions';
import {
  type AnalysisView,
  type ApproveField,
  approveBody,
  bitrateText,
  type CameraField,
  type CameraInfo,
  defaultChoice,
  type DeliveryView,
  type DeviceProfiles,
  deviceLabel,
  type DiscoveredDevice,
  fpsText,
  lastFrameAge,
  lastFrameTime,
  mainOptions,
  newCameraBody,
  nextDeliveries,
  probeBody,
  profileLabel,
  sizeOf,
  streamState,
  subOptions,
  troubled,
  WEBHOOK_FORMATS,
  type WebhookField,
  webhookBody,
  type WebhookView,
  withMain,
} from '../lib/integrate';
import type { MessageKey } from '../lib/i18n';
import { t } from '../store';
import { ErrorText, PendingPage } from './ErrorText';
import { Field, Head, When } from './Evidence';

/** How often the health table is read again. */
const HEALTH_EVERY_MS = 5000;

const STATE_LABELS: Record<string, MessageKey> = {
  streaming: 'cameras.state.streaming',
  connecting: 'cameras.state.connecting',
  backoff: 'cameras.state.backoff',
  idle: 'cameras.state.idle',
  stopped: 'cameras.state.stopped',
  unknown: 'cameras.state.unknown',
};

/** Focuses the field a refusal names, else the form's own message. */
function focusRefusal(prefix: string, field: string | null) {
  document.getElementById(field ? `${prefix}-${field}` : `${prefix}-form-error`)?.focus();
}

function FormMessage({ id, message }: { id: string; message: string | null }) {
  if (message === null) return null;
  return (
    <p id={id} class="error" role="alert" tabIndex={-1}>
      {message}
    </p>
  );
}

// ----- cameras -----

function AddCameraForm({ added }: { added: () => void }) {
  const name = useSignal('');
  const url = useSignal('');
  const username = useSignal('');
  const password = useSignal('');
  const [err, setErr] = useState<FormError<CameraField> | null>(null);
  const [pending, setPending] = useState(false);
  const e = (f: CameraField) => (err?.field === f ? err.message : null);
  const text = (s: { value: string }) => (x: Event) => (s.value = (x.currentTarget as HTMLInputElement).value);
  return (
    <form
      class="card ev-form"
      id="camera-form"
      noValidate
      aria-labelledby="camera-form-title"
      onSubmit={async (ev) => {
        ev.preventDefault();
        if (pending) return;
        setPending(true);
        const r = await addCamera(
          newCameraBody({ name: name.value, url: url.value, username: username.value, password: password.value }),
        );
        setPending(false);
        if ('id' in r) {
          setErr(null);
          name.value = '';
          url.value = '';
          username.value = '';
          password.value = '';
          added();
        } else {
          setErr(r);
          focusRefusal('camera', r.field);
        }
      }}
    >
      <h2 id="camera-form-title">{t.value('cameras.add')}</h2>
      <Field id="camera-name" label={t.value('cameras.name')} error={e('name')}>
        {(a) => <input {...a} dir="auto" autocomplete="off" value={name.value} onInput={text(name)} />}
      </Field>
      <Field id="camera-url" label={t.value('cameras.url')} error={e('url')} hint={t.value('cameras.urlHint')}>
        {(a) => (
          <input
            {...a}
            dir="ltr"
            type="text"
            inputMode="url"
            autocomplete="off"
            spellcheck={false}
            value={url.value}
            onInput={text(url)}
          />
        )}
      </Field>
      <div class="field-row">
        <Field id="camera-username" label={t.value('cameras.username')} error={e('username')}>
          {(a) => <input {...a} dir="ltr" autocomplete="off" spellcheck={false} value={username.value} onInput={text(username)} />}
        </Field>
        <Field id="camera-password" label={t.value('cameras.password')} error={e('password')}>
          {(a) => <input {...a} dir="ltr" type="password" autocomplete="new-password" value={password.value} onInput={text(password)} />}
        </Field>
      </div>
      <p class="hint">{t.value('cameras.loginHint')}</p>
      <FormMessage id="camera-form-error" message={err && err.field === null ? err.message : null} />
      <button type="submit" class="btn btn-primary" disabled={pending}>
        {t.value('cameras.addSubmit')}
      </button>
    </form>
  );
}

function AnalysisToggle({ camera, name }: { camera: string; name: string }) {
  const [a, setA] = useState<AnalysisView | string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    void analysisOf(camera).then(setA);
  }, [camera]);
  if (a === null) return <span class="muted">…</span>;
  if (typeof a === 'string') return <ErrorText message={a} />;
  return (
    <button
      type="button"
      class={a.enabled ? 'btn analysis-toggle analysis-on' : 'btn analysis-toggle'}
      aria-pressed={a.enabled}
      aria-label={t.value('cameras.analysisFor', { name })}
      data-enabled={String(a.enabled)}
      disabled={busy}
      onClick={async () => {
        setBusy(true);
        const r = await setAnalysis(camera, !a.enabled);
        setBusy(false);
        setA(r);
      }}
    >
      {t.value(a.enabled ? 'cameras.analysisOn' : 'cameras.analysisOff')}
    </button>
  );
}

function CameraRow({ c, now }: { c: CameraInfo; now: number }) {
  const state = streamState(c);
  const h = c.health;
  const rate = bitrateText(h?.bitrate_bps ?? 0);
  return (
    <tr id={`camera-${c.id}`} class={troubled(c) ? 'camera-row troubled' : 'camera-row'} data-camera={c.id} data-state={state}>
      <td>
        <bdi class="camera-name">{c.name}</bdi>
        <div class="hint camera-url">
          <bdi class="mono" dir="ltr">
            {c.url}
          </bdi>
        </div>
        {!c.enabled && <span class="chip">{t.value('cameras.disabled')}</span>}
      </td>
      <td>
        <span class={`stream-state state-${state}`}>{t.value(STATE_LABELS[state] ?? 'cameras.state.unknown')}</span>
        {h?.last_error && state !== 'streaming' && (
          <div class="hint camera-error">
            <bdi>{h.last_error}</bdi>
          </div>
        )}
      </td>
      <td class="num">
        <bdi class="mono">{fpsText(h?.fps ?? 0)}</bdi>
        <div class="hint">
          <bdi class="mono">{sizeOf(h?.width, h?.height)}</bdi>
        </div>
      </td>
      <td class="num">
        <bdi class="mono">
          {rate.value} {rate.unit}
        </bdi>
      </td>
      <td>
        <bdi class="mono">{lastFrameTime(h)}</bdi>
        {h?.last_frame_at != null && (
          <div class="hint">{t.value('cameras.ago', { age: lastFrameAge(h, now) })}</div>
        )}
      </td>
      <td class="num">
        <bdi class="mono reconnects">{h?.reconnects ?? 0}</bdi>
      </td>
      <td class="num">
        <bdi class={(c.gaps_today ?? 0) > 0 ? 'mono gaps-today has-gaps' : 'mono gaps-today'}>{c.gaps_today ?? 0}</bdi>
      </td>
      <td>
        <AnalysisToggle camera={c.id} name={c.name} />
      </td>
    </tr>
  );
}

export function CamerasPage() {
  const [list, setList] = useState<CameraInfo[] | string | null>(null);
  const [now, setNow] = useState(Date.now() * 1000);
  const reload = () =>
    void cameraHealth().then((r) => {
      setNow(Date.now() * 1000);
      setList((old) => (typeof r === 'string' && Array.isArray(old) ? old : r));
    });
  useEffect(() => {
    reload();
    const timer = setInterval(reload, HEALTH_EVERY_MS);
    return () => clearInterval(timer);
  }, []);
  if (list === null || typeof list === 'string') return <PendingPage failure={list} pageClass="page evidence-page" />;
  return (
    <main id="main" class="page evidence-page" tabIndex={-1} aria-labelledby="cameras-title">
      <h1 id="cameras-title" class="page-title">
        {t.value('cameras.title')}
      </h1>
      <div class="cameras-layout">
        <section aria-labelledby="cameras-list-title">
          <h2 id="cameras-list-title">{t.value('cameras.list', { n: list.length })}</h2>
          {list.length === 0 ? (
            <p class="muted">{t.value('cameras.none')}</p>
          ) : (
            <div class="table-scroll">
              <table class="ev-table camera-health">
                <Head
                  keys={[
                    'cameras.col.camera',
                    'cameras.col.state',
                    'cameras.col.fps',
                    'cameras.col.bitrate',
                    'cameras.col.lastFrame',
                    'cameras.col.reconnects',
                    'cameras.col.gapsToday',
                    'cameras.col.analysis',
                  ]}
                />
                <tbody>
                  {list.map((c) => (
                    <CameraRow key={c.id} c={c} now={now} />
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <p class="hint">{t.value('cameras.gapsNote')}</p>
        </section>
        <AddCameraForm added={reload} />
      </div>
    </main>
  );
}

// ----- ONVIF -----

function ApproveForm({ d, done }: { d: DiscoveredDevice; done: (added: boolean) => void }) {
  const p = `approve-${d.id}`;
  const name = useSignal(d.name ?? '');
  const username = useSignal('');
  const password = useSignal('');
  const [profiles, setProfiles] = useState<DeviceProfiles | null>(null);
  const [choice, setChoice] = useState<{ main: string; sub: string }>({ main: '', sub: '' });
  const [err, setErr] = useState<FormError<ApproveField> | null>(null);
  const [pending, setPending] = useState(false);
  const e = (f: ApproveField) => (err?.field === f ? err.message : null);
  const text = (s: { value: string }) => (x: Event) => (s.value = (x.currentTarget as HTMLInputElement).value);
  const login = () => ({ username: username.value, password: password.value });
  const read = async () => {
    setPending(true);
    const r = await deviceProfiles(probeBody(d.id, login()));
    setPending(false);
    if ('profiles' in r) {
      setErr(null);
      setProfiles(r);
      setChoice(defaultChoice(r));
    } else {
      setErr(r);
      focusRefusal(p, r.field);
    }
  };
  return (
    <form
      class="approve-form"
      id={`${p}-form`}
      noValidate
      aria-label={t.value('onvif.approveFor', { name: deviceLabel(d) })}
      onSubmit={async (ev) => {
        ev.preventDefault();
        if (pending) return;
        if (!profiles) {
          await read();
          return;
        }
        setPending(true);
        const r = await approveDevice(approveBody(d.id, name.value, login(), choice));
        setPending(false);
        if ('camera' in r) done(true);
        else {
          setErr(r);
          focusRefusal(p, r.field);
        }
      }}
    >
      <div class="field-row">
        <Field id={`${p}-name`} label={t.value('cameras.name')} error={e('name')}>
          {(a) => <input {...a} dir="auto" autocomplete="off" value={name.value} onInput={text(name)} />}
        </Field>
        <Field id={`${p}-username`} label={t.value('cameras.username')} error={e('username')}>
          {(a) => <input {...a} dir="ltr" autocomplete="off" spellcheck={false} value={username.value} onInput={text(username)} />}
        </Field>
        <Field id={`${p}-password`} label={t.value('cameras.password')} error={e('password')}>
          {(a) => <input {...a} dir="ltr" type="password" autocomplete="new-password" value={password.value} onInput={text(password)} />}
        </Field>
      </div>
      {profiles && (
        <>
          <p class="hint">
            <bdi>{`${profiles.manufacturer} ${profiles.model}`.trim()}</bdi>
            {' · '}
            {t.value('onvif.profilesRead', { n: profiles.profiles.length })}
          </p>
          <div class="field-row">
            <Field id={`${p}-main_profile`} label={t.value('onvif.main')} error={e('main_profile')} hint={t.value('onvif.mainHint')}>
              {(a) => (
                <select
                  {...a}
                  value={choice.main}
                  onChange={(x) => setChoice(withMain(choice, (x.currentTarget as HTMLSelectElement).value))}
                >
                  {mainOptions(profiles).map((o) => (
                    <option key={o.token} value={o.token} dir="ltr">
                      {profileLabel(o)}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <Field id={`${p}-sub_profile`} label={t.value('onvif.sub')} error={e('sub_profile')} hint={t.value('onvif.subHint')}>
              {(a) => (
                <select
                  {...a}
                  value={choice.sub}
                  onChange={(x) => setChoice({ ...choice, sub: (x.currentTarget as HTMLSelectElement).value })}
                >
                  <option value="">{t.value('onvif.subNone')}</option>
                  {subOptions(profiles, choice.main).map((o) => (
                    <option key={o.token} value={o.token} dir="ltr">
                      {profileLabel(o)}
                    </option>
                  ))}
                </select>
              )}
            </Field>
          </div>
        </>
      )}
      <FormMessage id={`${p}-form-error`} message={err && err.field === null ? err.message : null} />
      <div class="row-actions">
        {profiles ? (
          <>
            <button type="submit" class="btn btn-primary approve-submit" disabled={pending || choice.main === ''}>
              {t.value('onvif.approveSubmit')}
            </button>
            <button type="button" class="btn read-profiles" disabled={pending} onClick={() => void read()}>
              {t.value('onvif.readAgain')}
            </button>
          </>
        ) : (
          <button type="submit" class="btn btn-primary read-profiles" disabled={pending}>
            {t.value('onvif.readProfiles')}
          </button>
        )}
        <button type="button" class="btn btn-quiet" onClick={() => done(false)}>
          {t.value('users.cancel')}
        </button>
      </div>
    </form>
  );
}

function DeviceCard({ d, changed }: { d: DiscoveredDevice; changed: (added: boolean) => void }) {
  const [open, setOpen] = useState(false);
  const [armed, setArmed] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <li class="card device" id={`device-${d.id}`} data-device={d.id}>
      <div class="device-head">
        <h3>
          <bdi>{deviceLabel(d)}</bdi>
        </h3>
        {!open && (
          <div class="row-actions">
            <button type="button" class="btn btn-primary action-approve" aria-expanded={open} onClick={() => setOpen(true)}>
              {t.value('onvif.approve')}
            </button>
            <button
              type="button"
              class={armed ? 'btn btn-danger action-dismiss' : 'btn action-dismiss'}
              onClick={async () => {
                if (!armed) {
                  setArmed(true);
                  setTimeout(() => setArmed(false), 4000);
                  return;
                }
                const r = await dismissDevice(d.id);
                setError(r);
                if (r === null) changed(false);
              }}
            >
              {t.value(armed ? 'onvif.dismissConfirm' : 'onvif.dismiss')}
            </button>
          </div>
        )}
      </div>
      <dl class="facts">
        {d.hardware && (
          <div>
            <dt>{t.value('onvif.hardware')}</dt>
            <dd>
              <bdi>{d.hardware}</bdi>
            </dd>
          </div>
        )}
        {d.location && (
          <div>
            <dt>{t.value('onvif.location')}</dt>
            <dd>
              <bdi>{d.location}</bdi>
            </dd>
          </div>
        )}
        <div>
          <dt>{t.value('onvif.address')}</dt>
          <dd>
            {d.xaddrs.map((x) => (
              <div key={x}>
                <bdi class="mono device-address" dir="ltr">
                  {x}
                </bdi>
              </div>
            ))}
          </dd>
        </div>
        <div>
          <dt>{t.value('onvif.lastSeen')}</dt>
          <dd>
            <When at={d.last_seen} />
          </dd>
        </div>
      </dl>
      <ErrorText message={error} />
      {open && (
        <ApproveForm
          d={d}
          done={(added) => {
            setOpen(false);
            if (added) changed(true);
          }}
        />
      )}
    </li>
  );
}

export function OnvifPage() {
  const [list, setList] = useState<DiscoveredDevice[] | string | null>(null);
  const [running, setRunning] = useState(false);
  const [found, setFound] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [added, setAdded] = useState(0);
  const reload = () => void discoveredDevices().then(setList);
  useEffect(reload, []);
  if (list === null || typeof list === 'string') return <PendingPage failure={list} pageClass="page evidence-page" />;
  return (
    <main id="main" class="page evidence-page" tabIndex={-1} aria-labelledby="onvif-title">
      <h1 id="onvif-title" class="page-title">
        {t.value('onvif.title')}
      </h1>
      <div class="search-buttons">
        <button
          type="button"
          class="btn btn-primary discover-run"
          disabled={running}
          onClick={async () => {
            setRunning(true);
            setError(null);
            const r = await discover();
            setRunning(false);
            if (typeof r === 'string') setError(r);
            else setFound(r.length);
            reload();
          }}
        >
          {t.value(running ? 'onvif.running' : 'onvif.run')}
        </button>
      </div>
      <p class="hint">{t.value('onvif.runHint')}</p>
      <ErrorText message={error} />
      {found !== null && (
        <p class="hint discover-result" role="status">
          {t.value('onvif.found', { n: found })}
        </p>
      )}
      {added > 0 && (
        <p class="added-note" role="status">
          {t.value('onvif.added')} <a href="#/cameras">{t.value('nav.cameras')}</a>
        </p>
      )}
      <h2>{t.value('onvif.pending', { n: list.length })}</h2>
      {list.length === 0 ? (
        <p class="muted">{t.value('onvif.none')}</p>
      ) : (
        <ul class="device-list">
          {list.map((d) => (
            <DeviceCard
              key={d.id}
              d={d}
              changed={(a) => {
                if (a) setAdded(added + 1);
                reload();
              }}
            />
          ))}
        </ul>
      )}
    </main>
  );
}

// ----- webhooks -----

function NewWebhookForm({ created }: { created: () => void }) {
  const name = useSignal('');
  const url = useSignal('');
  const secret = useSignal('');
  const kinds = useSignal('');
  const format = useSignal('json');
  const [err, setErr] = useState<FormError<WebhookField> | null>(null);
  const [pending, setPending] = useState(false);
  const e = (f: WebhookField) => (err?.field === f ? err.message : null);
  const text = (s: { value: string }) => (x: Event) => (s.value = (x.currentTarget as HTMLInputElement).value);
  return (
    <form
      class="card ev-form"
      id="webhook-form"
      noValidate
      aria-labelledby="webhook-form-title"
      onSubmit={async (ev) => {
        ev.preventDefault();
        if (pending) return;
        setPending(true);
        const r = await createWebhook(
          webhookBody({ name: name.value, url: url.value, secret: secret.value, kinds: kinds.value, format: format.value }),
        );
        setPending(false);
        if ('id' in r) {
          setErr(null);
          name.value = '';
          url.value = '';
          secret.value = '';
          kinds.value = '';
          created();
        } else {
          setErr(r);
          focusRefusal('webhook', r.field);
        }
      }}
    >
      <h2 id="webhook-form-title">{t.value('webhooks.new')}</h2>
      <Field id="webhook-name" label={t.value('webhooks.name')} error={e('name')}>
        {(a) => <input {...a} dir="auto" autocomplete="off" value={name.value} onInput={text(name)} />}
      </Field>
      <Field id="webhook-url" label={t.value('webhooks.url')} error={e('url')} hint={t.value('webhooks.urlHint')}>
        {(a) => (
          <input
            {...a}
            dir="ltr"
            inputMode="url"
            autocomplete="off"
            spellcheck={false}
            value={url.value}
            onInput={text(url)}
          />
        )}
      </Field>
      <Field id="webhook-secret" label={t.value('webhooks.secret')} error={e('secret')} hint={t.value('webhooks.secretHint')}>
        {(a) => <input {...a} dir="ltr" type="password" autocomplete="new-password" value={secret.value} onInput={text(secret)} />}
      </Field>
      <div class="field-row">
        <Field id="webhook-kinds" label={t.value('webhooks.kinds')} error={e('kinds')} hint={t.value('webhooks.kindsHint')}>
          {(a) => <input {...a} dir="ltr" autocomplete="off" spellcheck={false} value={kinds.value} onInput={text(kinds)} />}
        </Field>
        <Field id="webhook-format" label={t.value('webhooks.format')} error={e('format')}>
          {(a) => (
            <select {...a} value={format.value} onChange={(x) => (format.value = (x.currentTarget as HTMLSelectElement).value)}>
              {WEBHOOK_FORMATS.map((f) => (
                <option key={f} value={f}>
                  {t.value(f === 'cap' ? 'webhooks.formatCap' : 'webhooks.formatJson')}
                </option>
              ))}
            </select>
          )}
        </Field>
      </div>
      <FormMessage id="webhook-form-error" message={err && err.field === null ? err.message : null} />
      <button type="submit" class="btn btn-primary" disabled={pending}>
        {t.value('webhooks.create')}
      </button>
    </form>
  );
}

const DELIVERY_STATES: Record<string, MessageKey> = {
  pending: 'webhooks.state.pending',
  delivered: 'webhooks.state.delivered',
  dead: 'webhooks.state.dead',
};

function Deliveries({ hook }: { hook: WebhookView }) {
  const [rows, setRows] = useState<DeliveryView[] | string | null>(null);
  const [before, setBefore] = useState<number | null>(null);
  const load = (from: number | null) =>
    void webhookDeliveries(hook.id, from).then((r) => {
      setRows(r);
      setBefore(from);
    });
  useEffect(() => load(null), [hook.id]);
  if (rows === null) return <p class="muted">{t.value('app.loading')}</p>;
  if (typeof rows === 'string') return <ErrorText message={rows} />;
  const more = nextDeliveries(rows);
  return (
    <section class="deliveries" aria-label={t.value('webhooks.deliveriesOf', { name: hook.name })}>
      {rows.length === 0 ? (
        <p class="muted">{t.value('webhooks.noDeliveries')}</p>
      ) : (
        <table class="ev-table delivery-log">
          <Head
            keys={[
              'webhooks.col.seq',
              'webhooks.col.event',
              'webhooks.col.state',
              'webhooks.col.attempts',
              'webhooks.col.answer',
              'webhooks.col.created',
            ]}
          />
          <tbody>
            {rows.map((d) => (
              <tr key={d.seq} class={`delivery-row delivery-${d.state}`} data-state={d.state} data-event={d.event}>
                <td>
                  <bdi class="mono">{d.seq}</bdi>
                </td>
                <td>
                  <bdi class="mono">{d.event}</bdi>
                </td>
                <td>
                  {t.value(DELIVERY_STATES[d.state] ?? 'webhooks.state.pending')}
                  {d.delivered_at && (
                    <div class="hint">
                      <When at={d.delivered_at} />
                    </div>
                  )}
                  {d.next_attempt_at && (
                    <div class="hint">
                      {t.value('webhooks.nextAttempt')} <When at={d.next_attempt_at} />
                    </div>
                  )}
                </td>
                <td>
                  <bdi class="mono">{d.attempts}</bdi>
                </td>
                <td>
                  {d.last_status !== null && <bdi class="mono">HTTP {d.last_status}</bdi>}
                  {d.last_error && (
                    <div class="hint">
                      <bdi>{d.last_error}</bdi>
                    </div>
                  )}
                </td>
                <td>
                  <When at={d.created_at} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div class="search-buttons">
        <button type="button" class="btn deliveries-refresh" onClick={() => load(null)}>
          {t.value(before === null ? 'webhooks.refresh' : 'audit.newest')}
        </button>
        {more !== null && (
          <button type="button" class="btn" onClick={() => load(more)}>
            {t.value('webhooks.older')}
          </button>
        )}
      </div>
    </section>
  );
}

function WebhookRow({ w, reload }: { w: WebhookView; reload: () => void }) {
  const [open, setOpen] = useState(false);
  const [armed, setArmed] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <>
      <tr id={`webhook-${w.id}`} class={w.enabled ? 'webhook-row' : 'webhook-row disabled'} data-webhook={w.id} data-enabled={String(w.enabled)}>
        <td>
          <bdi class="user-name">{w.name}</bdi>
          <div class="hint">
            <bdi class="mono webhook-url" dir="ltr">
              {w.url}
            </bdi>
          </div>
        </td>
        <td>
          {w.kinds.length === 0 ? (
            <span class="muted">{t.value('webhooks.allKinds')}</span>
          ) : (
            <span class="scope-list">
              {w.kinds.map((k) => (
                <bdi key={k} class="chip mono">
                  {k}
                </bdi>
              ))}
            </span>
          )}
          <div class="hint">{t.value(w.format === 'cap' ? 'webhooks.formatCap' : 'webhooks.formatJson')}</div>
        </td>
        <td>{t.value(w.enabled ? 'webhooks.enabled' : 'webhooks.disabled')}</td>
        <td>
          <div class="row-actions">
            <button type="button" class="btn action-deliveries" aria-expanded={open} onClick={() => setOpen(!open)}>
              {t.value('webhooks.deliveries')}
            </button>
            <button
              type="button"
              class="btn action-toggle"
              onClick={async () => {
                const r = await setWebhookEnabled(w.id, !w.enabled);
                setError(r);
                if (r === null) reload();
              }}
            >
              {t.value(w.enabled ? 'webhooks.disable' : 'webhooks.enable')}
            </button>
            <button
              type="button"
              class={armed ? 'btn btn-danger action-delete' : 'btn action-delete'}
              onClick={async () => {
                if (!armed) {
                  setArmed(true);
                  setTimeout(() => setArmed(false), 4000);
                  return;
                }
                const r = await deleteWebhook(w.id);
                setError(r);
                if (r === null) reload();
              }}
            >
              {t.value(armed ? 'webhooks.deleteConfirm' : 'webhooks.delete')}
            </button>
          </div>
          <ErrorText message={error} />
        </td>
      </tr>
      {open && (
        <tr class="deliveries-row">
          <td colSpan={4}>
            <Deliveries hook={w} />
          </td>
        </tr>
      )}
    </>
  );
}

export function WebhooksPage() {
  const [list, setList] = useState<WebhookView[] | string | null>(null);
  const reload = () => void webhookList().then(setList);
  useEffect(reload, []);
  if (list === null || typeof list === 'string') return <PendingPage failure={list} pageClass="page evidence-page" />;
  return (
    <main id="main" class="page evidence-page" tabIndex={-1} aria-labelledby="webhooks-title">
      <h1 id="webhooks-title" class="page-title">
        {t.value('webhooks.title')}
      </h1>
      <div class="evidence-layout">
        <NewWebhookForm created={reload} />
        <section aria-labelledby="webhooks-list-title">
          <h2 id="webhooks-list-title">{t.value('webhooks.list', { n: list.length })}</h2>
          {list.length === 0 ? (
            <p class="muted">{t.value('webhooks.none')}</p>
          ) : (
            <table class="ev-table webhooks">
              <Head keys={['webhooks.name', 'webhooks.kinds', 'webhooks.col.state', 'search.col.actions']} />
              <tbody>
                {list.map((w) => (
                  <WebhookRow key={w.id} w={w} reload={reload} />
                ))}
              </tbody>
            </table>
          )}
        </section>
      </div>
    </main>
  );
}
