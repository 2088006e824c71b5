// The investigator's pages: footage search (`#/search`), exports with their progress, download
// and offline check (`#/exports`), legal holds by case (`#/holds`) and the custody log of a case
// (`#/custody/CASE`).
//
// Invariants:
// - a refused form keeps everything typed and shows the server's message next to the field it
//   names (else at the form's end);
// - an export's progress is read from its job (`GET /api/exports/{id}`) twice a second while
//   the page is open and the job runs: the API offers no push for export jobs;
// - watching an incident's footage plays the MP4 route, which the server logs as a view of that
//   footage (it shows in the case's custody log).

import { useSignal } from '@preact/signals';
import { type ComponentChildren, Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import {
  custodyLog,
  type EvidenceField,
  exportJob,
  exportList,
  type FormError,
  holdList,
  type IncidentInfo,
  liftHold,
  placeHold,
  searchIncidents,
  siteKeys,
  startExport,
} from '../actions';
import {
  bundleName,
  type CaseInfo,
  casesOf,
  type CustodyEvent,
  type CustodyLog,
  custodyPath,
  type ExportView,
  finished,
  type HoldView,
  KEY_FILE,
  parseLocal,
  percent,
  rfc3339,
  toLocal,
  verifyCommands,
} from '../lib/evidence';
import { formatDateTime, shortId } from '../lib/format';
import type { MessageKey } from '../lib/i18n';
import { custodyCase, evidenceTarget, go, names, t } from '../store';
import { ErrorText, PendingPage } from './ErrorText';

const DAY_US = 86_400 * 1_000_000;
/** How often a running export's progress is read, ms. */
const POLL_MS = 500;

function cameraName(id: string): string {
  return names.value.cameras.get(id) ?? shortId(id);
}

function hotspotName(id: string): string {
  return names.value.hotspots.get(id) ?? shortId(id);
}

export function When({ at }: { at: string }) {
  return <bdi class="mono">{formatDateTime(at)}</bdi>;
}

/** A labelled field with the server's refusal under it when it concerns this field. */
export function Field(props: {
  id: string;
  label: string;
  error: string | null;
  hint?: string;
  children: (a: { id: string; 'aria-invalid'?: 'true'; 'aria-describedby'?: string }) => ComponentChildren;
}) {
  const errId = `${props.id}-error`;
  const hintId = `${props.id}-hint`;
  const described = [props.error ? errId : null, props.hint ? hintId : null].filter(Boolean).join(' ');
  return (
    <div class={props.error ? 'field field-invalid' : 'field'}>
      <label for={props.id}>{props.label}</label>
      {props.children({
        id: props.id,
        ...(props.error ? { 'aria-invalid': 'true' as const } : {}),
        ...(described ? { 'aria-describedby': described } : {}),
      })}
      {props.hint && (
        <p id={hintId} class="hint">
          {props.hint}
        </p>
      )}
      {props.error && (
        <p id={errId} class="error field-error" role="alert">
          {props.error}
        </p>
      )}
    </div>
  );
}

/** The footage a form covers, as typed: an incident, or a camera and a range (site time). */
interface TargetDraft {
  incident: string | null;
  camera: string;
  start: string;
  end: string;
}

function draftOfTarget(): TargetDraft {
  const g = evidenceTarget.value;
  const now = Date.now() * 1000;
  if (!g) return { incident: null, camera: '', start: toLocal(now - 3600 * 1_000_000), end: toLocal(now) };
  return { incident: g.incident, camera: g.camera, start: toLocal(g.start), end: toLocal(g.end) };
}

/** The API's names for a draft's range: RFC 3339, or the text as typed when it is not a time
 * (the server then says what is wrong with it). */
function targetOfDraft(d: TargetDraft) {
  const s = parseLocal(d.start);
  const e = parseLocal(d.end);
  return {
    incident: d.incident,
    camera: d.camera,
    start: s === null ? d.start : rfc3339(s),
    end: e === null ? d.end : rfc3339(e),
  };
}

/** The target part of the export and hold forms. */
function TargetFields(props: {
  prefix: string;
  draft: TargetDraft;
  set: (d: TargetDraft) => void;
  err: FormError<EvidenceField> | null;
}) {
  const { draft, set, err, prefix } = props;
  const e = (f: EvidenceField) => (err?.field === f ? err.message : null);
  const cams = [...names.value.cameras.entries()];
  if (draft.incident) {
    return (
      <fieldset class="target">
        <legend>{t.value('evidence.target')}</legend>
        <p class="target-what">
          {t.value('evidence.ofIncident', { id: shortId(draft.incident) })}{' '}
          <bdi>{cameraName(draft.camera)}</bdi>
        </p>
        <p class="hint">
          <bdi class="mono">{draft.start.replace('T', ' ')}</bdi> – <bdi class="mono">{draft.end.replace('T', ' ')}</bdi>
        </p>
        {e('incident') && <ErrorText message={e('incident')} />}
        <button type="button" class="btn btn-quiet" onClick={() => set({ ...draft, incident: null })}>
          {t.value('evidence.asRange')}
        </button>
      </fieldset>
    );
  }
  return (
    <fieldset class="target">
      <legend>{t.value('evidence.target')}</legend>
      <Field id={`${prefix}-camera`} label={t.value('search.camera')} error={e('camera')}>
        {(a) => (
          <select {...a} value={draft.camera} onChange={(ev) => set({ ...draft, camera: (ev.currentTarget as HTMLSelectElement).value })}>
            <option value="">{t.value('evidence.pickCamera')}</option>
            {cams.map(([id, name]) => (
              <option key={id} value={id}>
                {name}
              </option>
            ))}
          </select>
        )}
      </Field>
      <div class="field-row">
        <Field id={`${prefix}-start`} label={t.value('search.since')} error={e('start')}>
          {(a) => (
            <input {...a} type="datetime-local" step={1} value={draft.start} onInput={(ev) => set({ ...draft, start: (ev.currentTarget as HTMLInputElement).value })} />
          )}
        </Field>
        <Field id={`${prefix}-end`} label={t.value('search.until')} error={e('end')}>
          {(a) => (
            <input {...a} type="datetime-local" step={1} value={draft.end} onInput={(ev) => set({ ...draft, end: (ev.currentTarget as HTMLInputElement).value })} />
          )}
        </Field>
      </div>
    </fieldset>
  );
}

// ----- search -----

export function SearchPage() {
  const now = Date.now() * 1000;
  const [camera, setCamera] = useState('');
  const [hotspot, setHotspot] = useState('');
  const [from, setFrom] = useState(toLocal(now - DAY_US));
  const [to, setTo] = useState(toLocal(now + 3600 * 1_000_000));
  const [incident, setIncident] = useState('');
  const [results, setResults] = useState<IncidentInfo[] | string | null>(null);
  const [pending, setPending] = useState(false);
  const [watching, setWatching] = useState<string | null>(null);
  const [rangeError, setRangeError] = useState<string | null>(null);

  const run = async () => {
    const s = parseLocal(from);
    const e = parseLocal(to);
    if (s === null || e === null) {
      setRangeError(t.value('search.badTime'));
      return;
    }
    setRangeError(null);
    setPending(true);
    setResults(await searchIncidents({ camera, hotspot, start: s, end: e, incident }));
    setPending(false);
  };
  useEffect(() => {
    void run();
  }, []);

  const target = (i: IncidentInfo) => ({
    incident: i.id,
    camera: i.camera_id,
    start: i.evidence.start_us,
    end: i.evidence.end_us ?? Date.now() * 1000,
  });
  const exportRange = (page: 'exports' | 'holds') => {
    const s = parseLocal(from);
    const e = parseLocal(to);
    if (!camera || s === null || e === null) {
      setRangeError(t.value('search.pickCameraFirst'));
      return;
    }
    evidenceTarget.value = { incident: null, camera, start: s, end: e };
    go(page);
  };
  const list = Array.isArray(results) ? results : [];
  return (
    <main id="main" class="page evidence-page" tabIndex={-1} aria-labelledby="search-title">
      <h1 id="search-title" class="page-title">
        {t.value('search.title')}
      </h1>
      <form
        class="card search-form"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void run();
        }}
      >
        <AnyOf
          id="search-camera"
          label="search.camera"
          items={names.value.cameras}
          value={camera}
          set={setCamera}
        />
        <AnyOf
          id="search-hotspot"
          label="search.hotspot"
          items={names.value.hotspots}
          value={hotspot}
          set={setHotspot}
        />
        <div class="field">
          <label for="search-since">{t.value('search.since')}</label>
          <input id="search-since" type="datetime-local" step={1} value={from} onInput={(e) => setFrom((e.currentTarget as HTMLInputElement).value)} />
        </div>
        <div class="field">
          <label for="search-until">{t.value('search.until')}</label>
          <input id="search-until" type="datetime-local" step={1} value={to} onInput={(e) => setTo((e.currentTarget as HTMLInputElement).value)} />
        </div>
        <div class="field">
          <label for="search-incident">{t.value('search.incident')}</label>
          <input
            id="search-incident"
            dir="ltr"
            spellcheck={false}
            value={incident}
            onInput={(e) => setIncident((e.currentTarget as HTMLInputElement).value)}
          />
        </div>
        <div class="search-buttons">
          <button type="submit" class="btn btn-primary" disabled={pending}>
            {t.value('search.submit')}
          </button>
          <button type="button" class="btn" onClick={() => exportRange('exports')}>
            {t.value('search.exportRange')}
          </button>
          <button type="button" class="btn" onClick={() => exportRange('holds')}>
            {t.value('search.holdRange')}
          </button>
        </div>
      </form>
      <ErrorText message={rangeError} />
      {typeof results === 'string' && <ErrorText message={results} />}
      {results === null && <p class="muted">{t.value('app.loading')}</p>}
      {Array.isArray(results) && (
        <p class="hint" role="status">
          {t.value('search.count', { n: list.length })}
        </p>
      )}
      {list.length > 0 && (
        <table class="ev-table results">
          <Head
            keys={[
              'search.col.time',
              'search.col.kind',
              'search.camera',
              'search.hotspot',
              'search.col.reason',
              'search.col.actions',
            ]}
          />
          <tbody>
            {list.map((i) => (
              <Fragment key={i.id}>
                <tr id={`incident-${i.id}`} class="incident-row">
                  <td>
                    <When at={i.opened_at} />
                  </td>
                  <td>
                    <bdi>{i.kind}</bdi>
                  </td>
                  <td>
                    <bdi>{cameraName(i.camera_id)}</bdi>
                  </td>
                  <td>
                    <bdi>{hotspotName(i.hotspot_id)}</bdi>
                  </td>
                  <td>
                    <bdi>{i.reason}</bdi>
                  </td>
                  <td>
                    <div class="row-actions">
                      <button
                        type="button"
                        class="btn action-watch"
                        aria-pressed={watching === i.id}
                        onClick={() => setWatching(watching === i.id ? null : i.id)}
                      >
                        {t.value('search.watch')}
                      </button>
                      <button
                        type="button"
                        class="btn btn-primary action-export"
                        onClick={() => {
                          evidenceTarget.value = target(i);
                          go('exports');
                        }}
                      >
                        {t.value('search.export')}
                      </button>
                      <button
                        type="button"
                        class="btn action-hold"
                        onClick={() => {
                          evidenceTarget.value = target(i);
                          go('holds');
                        }}
                      >
                        {t.value('search.hold')}
                      </button>
                    </div>
                  </td>
                </tr>
                {watching === i.id && (
                  <tr class="watch-row">
                    <td colSpan={6}>
                      <video
                        class="evidence-video"
                        src={i.evidence.mp4_url}
                        controls
                        autoplay
                        muted
                        playsInline
                        aria-label={t.value('search.video')}
                      />
                    </td>
                  </tr>
                )}
              </Fragment>
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}

// ----- exports -----

/** The site's current public key as a file to download (a `data:` URL of its PEM), and its id. */
function useSiteKey(): { url: string; id: string } | string | null {
  const [key, setKey] = useState<{ url: string; id: string } | string | null>(null);
  useEffect(() => {
    let live = true;
    void siteKeys().then((ks) => {
      if (!live) return;
      if (typeof ks === 'string') return setKey(ks);
      const k = ks[0];
      if (!k) return setKey(t.value('export.noKey'));
      setKey({ url: `data:application/x-pem-file;charset=utf-8,${encodeURIComponent(k.pem)}`, id: k.key_id });
    });
    return () => {
      live = false;
    };
  }, []);
  return key;
}

/** What a finished bundle comes with: the download, the site key, the commands that check it. */
function Verify({ job, keyFile }: { job: ExportView; keyFile: { url: string; id: string } | string | null }) {
  const name = bundleName(job.id);
  return (
    <section class="verify" aria-labelledby="verify-title">
      <h2 id="verify-title">{t.value('export.ready')}</h2>
      <p class="download-links">
        {job.download && (
          <a class="btn btn-primary btn-big download-bundle" href={job.download} download={name}>
            {t.value('export.download')}
          </a>
        )}
        {typeof keyFile === 'object' && keyFile !== null && (
          <a class="btn download-key" href={keyFile.url} download={KEY_FILE}>
            {t.value('export.key', { id: keyFile.id })}
          </a>
        )}
      </p>
      {typeof keyFile === 'string' && <ErrorText message={keyFile} />}
      <p>{t.value('export.verifyIntro')}</p>
      <pre class="commands mono" dir="ltr">
        <code>{verifyCommands(name).join('\n')}</code>
      </pre>
      <p class="hint">{t.value('export.verifyOk')}</p>
    </section>
  );
}

function Progress({ job }: { job: ExportView }) {
  const p = percent(job);
  const stateKey: Record<string, MessageKey> = {
    queued: 'export.state.queued',
    running: 'export.state.running',
    done: 'export.state.done',
    failed: 'export.state.failed',
  };
  return (
    <div class={`export-progress state-${job.state}`}>
      <p class="progress-line">
        <label for="export-progress">{t.value(stateKey[job.state] ?? 'export.state.running')}</label>
        <bdi class="mono progress-percent">{`${p}%`}</bdi>
      </p>
      <progress id="export-progress" max={100} value={p} data-state={job.state} />
      {job.state === 'failed' && <ErrorText message={job.error ?? t.value('export.state.failed')} />}
    </div>
  );
}

export function ExportsPage() {
  const [draft, setDraft] = useState<TargetDraft>(draftOfTarget);
  const reason = useSignal('');
  const caseRef = useSignal('');
  const [err, setErr] = useState<FormError<EvidenceField> | null>(null);
  const [pending, setPending] = useState(false);
  const [job, setJob] = useState<ExportView | null>(null);
  const [list, setList] = useState<ExportView[] | string | null>(null);
  const keyFile = useSiteKey();

  useEffect(() => {
    void exportList().then(setList);
  }, [job?.state]);

  // The running job's progress, while this page is open.
  useEffect(() => {
    if (!job || finished(job)) return;
    const h = setTimeout(() => {
      void exportJob(job.id).then((v) => {
        if (typeof v !== 'string') setJob(v);
        else setJob({ ...job });
      });
    }, POLL_MS);
    return () => clearTimeout(h);
  }, [job]);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (pending) return;
    setPending(true);
    const r = await startExport(targetOfDraft(draft), reason.value, caseRef.value);
    setPending(false);
    if ('id' in r) {
      setErr(null);
      setJob(r);
    } else {
      setErr(r);
      document.getElementById(r.field ? `export-${r.field}` : 'export-form-error')?.focus();
    }
  };
  const fieldErr = (f: EvidenceField) => (err?.field === f ? err.message : null);
  return (
    <main id="main" class="page evidence-page" tabIndex={-1} aria-labelledby="export-title">
      <h1 id="export-title" class="page-title">
        {t.value('export.title')}
      </h1>
      <div class="evidence-layout">
        <form class="card ev-form" id="export-form" noValidate onSubmit={submit}>
          <TargetFields prefix="export" draft={draft} set={setDraft} err={err} />
          <Field id="export-reason" label={t.value('evidence.reason')} error={fieldErr('reason')}>
            {(a) => (
              <textarea {...a} rows={2} dir="auto" value={reason.value} onInput={(e) => (reason.value = (e.currentTarget as HTMLTextAreaElement).value)} />
            )}
          </Field>
          <Field id="export-case" label={t.value('evidence.case')} error={fieldErr('case')} hint={t.value('evidence.caseHint')}>
            {(a) => (
              <input {...a} dir="auto" spellcheck={false} value={caseRef.value} onInput={(e) => (caseRef.value = (e.currentTarget as HTMLInputElement).value)} />
            )}
          </Field>
          {err && err.field === null && (
            <p id="export-form-error" class="error" role="alert" tabIndex={-1}>
              {err.message}
            </p>
          )}
          <button type="submit" class="btn btn-primary" disabled={pending || (job !== null && !finished(job))}>
            {t.value('export.submit')}
          </button>
        </form>
        {job && (
          <section class="card job" aria-labelledby="job-title" aria-live="polite">
            <h2 id="job-title">
              {t.value('export.job', { case: job.case })}
            </h2>
            <Progress job={job} />
            {job.state === 'done' && <Verify job={job} keyFile={keyFile} />}
          </section>
        )}
      </div>
      <h2>{t.value('export.recent')}</h2>
      {typeof list === 'string' && <ErrorText message={list} />}
      {Array.isArray(list) && list.length === 0 && <p class="muted">{t.value('export.none')}</p>}
      {Array.isArray(list) && list.length > 0 && <ExportTable list={list} />}
    </main>
  );
}

/** A labelled choice of one of `items` (id → name), or of any. */
function AnyOf(props: {
  id: string;
  label: MessageKey;
  items: ReadonlyMap<string, string>;
  value: string;
  set: (v: string) => void;
}) {
  return (
    <div class="field">
      <label for={props.id}>{t.value(props.label)}</label>
      <select
        id={props.id}
        value={props.value}
        onChange={(e) => props.set((e.currentTarget as HTMLSelectElement).value)}
      >
        <option value="">{t.value('search.any')}</option>
        {[...props.items.entries()].map(([id, name]) => (
          <option key={id} value={id}>
            {name}
          </option>
        ))}
      </select>
    </div>
  );
}

/** A table's header row: one column heading per message key. */
export function Head({ keys }: { keys: readonly MessageKey[] }) {
  return (
    <thead>
      <tr>
        {keys.map((k) => (
          <th key={k} scope="col">
            {t.value(k)}
          </th>
        ))}
      </tr>
    </thead>
  );
}

function ExportTable({ list }: { list: readonly ExportView[] }) {
  return (
    <table class="ev-table">
      <Head
        keys={[
          'evidence.case',
          'search.camera',
          'evidence.range',
          'evidence.by',
          'export.col.state',
        ]}
      />
      <tbody>
        {list.map((x) => (
          <tr key={x.id}>
            <td>
              <a href={`#/custody/${encodeURIComponent(x.case)}`}>
                <bdi>{x.case}</bdi>
              </a>
            </td>
            <td>
              <bdi>{cameraName(x.camera)}</bdi>
            </td>
            <td>
              <When at={x.start} /> – <When at={x.end} />
            </td>
            <td>
              <bdi>{x.requester}</bdi>
            </td>
            <td>
              {x.download ? (
                <a href={x.download} download={bundleName(x.id)}>
                  {t.value('export.download')}
                </a>
              ) : (
                <bdi class="mono">{`${percent(x)}%`}</bdi>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

// ----- holds -----

function LiftForm({ hold, done }: { hold: HoldView; done: () => void }) {
  const reason = useSignal('');
  const [err, setErr] = useState<FormError<'reason'> | null>(null);
  const [pending, setPending] = useState(false);
  const id = `lift-${hold.id}-reason`;
  return (
    <form
      class="lift-form"
      noValidate
      onSubmit={async (e) => {
        e.preventDefault();
        setPending(true);
        const r = await liftHold(hold.id, reason.value);
        setPending(false);
        if (r === null) done();
        else setErr(r);
      }}
    >
      <Field id={id} label={t.value('holds.liftReason')} error={err?.message ?? null}>
        {(a) => <input {...a} dir="auto" value={reason.value} onInput={(e) => (reason.value = (e.currentTarget as HTMLInputElement).value)} />}
      </Field>
      <button type="submit" class="btn" disabled={pending}>
        {t.value('holds.lift')}
      </button>
    </form>
  );
}

export function HoldsPage() {
  const [draft, setDraft] = useState<TargetDraft>(draftOfTarget);
  const reason = useSignal('');
  const caseRef = useSignal('');
  const filter = useSignal('');
  const [err, setErr] = useState<FormError<EvidenceField> | null>(null);
  const [pending, setPending] = useState(false);
  const [list, setList] = useState<HoldView[] | string | null>(null);
  const [lifting, setLifting] = useState<number | null>(null);
  const reload = () => void holdList().then(setList);
  useEffect(reload, []);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (pending) return;
    setPending(true);
    const r = await placeHold(targetOfDraft(draft), reason.value, caseRef.value);
    setPending(false);
    if ('id' in r) {
      setErr(null);
      filter.value = r.case;
      reload();
    } else setErr(r);
  };
  const fieldErr = (f: EvidenceField) => (err?.field === f ? err.message : null);
  if (list === null || typeof list === 'string') return <PendingPage failure={list} pageClass="page evidence-page" />;
  const f = filter.value.trim();
  const cases = casesOf([], list).filter((c) => f === '' || c.case.includes(f));
  return (
    <main id="main" class="page evidence-page" tabIndex={-1} aria-labelledby="holds-title">
      <h1 id="holds-title" class="page-title">
        {t.value('holds.title')}
      </h1>
      <div class="evidence-layout">
        <form class="card ev-form" noValidate onSubmit={submit} aria-labelledby="hold-form-title">
          <h2 id="hold-form-title">{t.value('holds.place')}</h2>
          <TargetFields prefix="hold" draft={draft} set={setDraft} err={err} />
          <Field id="hold-case" label={t.value('evidence.case')} error={fieldErr('case')}>
            {(a) => <input {...a} dir="auto" value={caseRef.value} onInput={(e) => (caseRef.value = (e.currentTarget as HTMLInputElement).value)} />}
          </Field>
          <Field id="hold-reason" label={t.value('evidence.reason')} error={fieldErr('reason')}>
            {(a) => (
              <textarea {...a} rows={2} dir="auto" value={reason.value} onInput={(e) => (reason.value = (e.currentTarget as HTMLTextAreaElement).value)} />
            )}
          </Field>
          {err && err.field === null && <ErrorText message={err.message} />}
          <button type="submit" class="btn btn-primary" disabled={pending}>
            {t.value('holds.submit')}
          </button>
        </form>
        <section class="hold-list" aria-labelledby="hold-list-title">
          <h2 id="hold-list-title">{t.value('holds.byCase')}</h2>
          <div class="field">
            <label for="hold-filter">{t.value('holds.filter')}</label>
            <input id="hold-filter" dir="auto" value={filter.value} onInput={(e) => (filter.value = (e.currentTarget as HTMLInputElement).value)} />
          </div>
          {cases.length === 0 && <p class="muted">{t.value('holds.none')}</p>}
          {cases.map((c) => (
            <article key={c.case} class="card case-card">
              <h3>
                <bdi>{c.case}</bdi>{' '}
                <a class="case-log-link" href={`#/custody/${encodeURIComponent(c.case)}`}>
                  {t.value('holds.log')}
                </a>
              </h3>
              <ul class="plain">
                {c.holds.map((h) => (
                  <li key={h.id} id={`hold-${h.id}`} class={h.cleared_at ? 'hold lifted' : 'hold'}>
                    <p>
                      <strong>{t.value(h.cleared_at ? 'holds.lifted' : 'holds.active')}</strong>{' '}
                      <bdi>{cameraName(h.camera)}</bdi> · <When at={h.start} /> – <When at={h.end} />
                    </p>
                    <p class="hint">
                      {t.value('holds.placedBy', { who: h.created_by })} <When at={h.created_at} /> · <bdi>{h.reason}</bdi>
                    </p>
                    {h.cleared_at && (
                      <p class="hint">
                        {t.value('holds.liftedBy', { who: h.cleared_by ?? '' })} <When at={h.cleared_at} /> ·{' '}
                        <bdi>{h.clear_reason}</bdi>
                      </p>
                    )}
                    {!h.cleared_at &&
                      (lifting === h.id ? (
                        <LiftForm
                          hold={h}
                          done={() => {
                            setLifting(null);
                            reload();
                          }}
                        />
                      ) : (
                        <button type="button" class="btn action-lift" onClick={() => setLifting(h.id)}>
                          {t.value('holds.lift')}
                        </button>
                      ))}
                  </li>
                ))}
              </ul>
            </article>
          ))}
        </section>
      </div>
    </main>
  );
}

// ----- custody log -----

const EVENT_LABELS: Record<string, MessageKey> = {
  footage_viewed: 'custody.kind.footage_viewed',
  export_created: 'custody.kind.export_created',
  export_downloaded: 'custody.kind.export_downloaded',
  hold_set: 'custody.kind.hold_set',
  hold_cleared: 'custody.kind.hold_cleared',
  retention_deleted: 'custody.kind.retention_deleted',
};

function EventRow({ e }: { e: CustodyEvent }) {
  const label = EVENT_LABELS[e.kind];
  const what: string[] = [];
  if (e.export) what.push(t.value('custody.export', { id: shortId(e.export) }));
  if (e.hold !== null) what.push(t.value('custody.hold', { id: e.hold }));
  return (
    <tr class={`event event-${e.kind}`} data-kind={e.kind}>
      <td>
        <When at={e.time} />
      </td>
      <td>{label ? t.value(label) : <bdi class="mono">{e.kind}</bdi>}</td>
      <td>
        <bdi>{e.actor ?? ''}</bdi>
      </td>
      <td>
        <bdi>{e.camera ? cameraName(e.camera) : ''}</bdi>
      </td>
      <td>
        {what.join(' · ')}
        {e.start && e.end && (
          <span class="hint">
            {' '}
            <When at={e.start} /> – <When at={e.end} />
          </span>
        )}
        {e.reason && (
          <span>
            {' · '}
            <bdi>{e.reason}</bdi>
          </span>
        )}
      </td>
      <td class="mono">
        <bdi>{`#${e.log_index}`}</bdi>
      </td>
    </tr>
  );
}

export function CustodyPage() {
  const chosen = custodyCase.value;
  const [cases, setCases] = useState<CaseInfo[] | string | null>(null);
  const [log, setLog] = useState<CustodyLog | string | null>(null);
  const typed = useSignal(chosen ?? '');
  useEffect(() => {
    void Promise.all([exportList(), holdList()]).then(([x, h]) => {
      if (typeof x === 'string') return setCases(x);
      if (typeof h === 'string') return setCases(h);
      setCases(casesOf(x, h));
    });
  }, []);
  const info = Array.isArray(cases) && chosen ? cases.find((c) => c.case === chosen) : undefined;
  useEffect(() => {
    setLog(null);
    const path = custodyPath(info);
    if (path) void custodyLog(path).then(setLog);
  }, [chosen, cases]);

  if (cases === null || typeof cases === 'string') return <PendingPage failure={cases} pageClass="page evidence-page" />;
  const events = typeof log === 'object' && log !== null ? log.events : [];
  return (
    <main id="main" class="page evidence-page" tabIndex={-1} aria-labelledby="custody-title">
      <h1 id="custody-title" class="page-title">
        {chosen ? t.value('custody.titleOf', { case: chosen }) : t.value('custody.title')}
      </h1>
      <form
        class="card search-form"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          const c = typed.value.trim();
          if (c) location.hash = `#/custody/${encodeURIComponent(c)}`;
        }}
      >
        <div class="field">
          <label for="custody-case">{t.value('evidence.case')}</label>
          <input
            id="custody-case"
            dir="auto"
            list="known-cases"
            value={typed.value}
            onInput={(e) => (typed.value = (e.currentTarget as HTMLInputElement).value)}
          />
          <datalist id="known-cases">
            {cases.map((c) => (
              <option key={c.case} value={c.case} />
            ))}
          </datalist>
        </div>
        <div class="search-buttons">
          <button type="submit" class="btn btn-primary">
            {t.value('custody.show')}
          </button>
        </div>
      </form>
      {chosen && !info && <p class="muted">{t.value('custody.unknown')}</p>}
      {typeof log === 'string' && <ErrorText message={log} />}
      {info && log === null && <p class="muted">{t.value('app.loading')}</p>}
      {typeof log === 'object' && log !== null && (
        <>
          <p class="hint" role="status">
            {t.value('custody.count', { n: events.length })}
          </p>
          {log.truncated && <p class="error">{t.value('custody.truncated')}</p>}
          <table class="ev-table custody-log">
            <Head
              keys={[
                'search.col.time',
                'custody.col.event',
                'evidence.by',
                'search.camera',
                'custody.col.details',
                'custody.col.leaf',
              ]}
            />
            <tbody>
              {events.map((e) => (
                <EventRow key={e.log_index} e={e} />
              ))}
            </tbody>
          </table>
        </>
      )}
      {info && info.exports.length > 0 && (
        <>
          <h2>{t.value('custody.exports')}</h2>
          <ExportTable list={info.exports} />
        </>
      )}
    </main>
  );
}
