// The admin's pages: users with their role and scope, API tokens for machines and patrol
// units, and patrol unit registration (`#/users`); the audit log with filters, paged as the
// server pages it (`#/audit`); the site's keys, the evidence log's latest checkpoint and each
// camera's retention (`#/keys`).
//
// Invariants:
// - a refused form keeps everything typed and shows the server's message next to the field it
//   names (else at the form's end);
// - a new token is shown once, on this page, until the admin closes it: the server keeps only
//   its hash;
// - the scope pickers list the cameras and hotspots the server lists (`names`), by name.

import { useSignal } from '@preact/signals';
import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import {
  ask,
  auditPage,
  cameraRetention,
  type CheckpointInfo,
  createToken,
  createUser,
  disableUser,
  type FormError,
  latestCheckpoint,
  type RegisteredUnit,
  registerUnit,
  siteKeys,
  userList,
} from '../actions';
import {
  AUDIT_PAGE,
  type CameraRetention,
  retentionDays,
  sizeText,
  deviceLink,
  type AuditView,
  auditQuery,
  checkpointTime,
  nextBefore,
  ROLES,
  scopeBody,
  scopeOf,
  type TokenField,
  type TokenView,
  toggled,
  UNIT_KINDS,
  type UnitField,
  type UserField,
  type UserView,
} from '../lib/admin';
import { KEY_FILE, mayDo, parseLocal } from '../lib/evidence';
import { isolate, shortId } from '../lib/format';
import type { MessageKey } from '../lib/i18n';
import { unitKindLabel } from '../labels';
import { names, session, t } from '../store';
import { ErrorText, PendingPage } from './ErrorText';
import { Field, Head, When } from './Evidence';

const ROLE_LABELS: Record<string, MessageKey> = {
  admin: 'role.admin',
  supervisor: 'role.supervisor',
  operator: 'role.operator',
  investigator: 'role.investigator',
  integrator: 'role.integrator',
  unit: 'role.unit',
};

function roleLabel(r: string) {
  const k = ROLE_LABELS[r];
  return k ? t.value(k) : r;
}

// ----- users -----

/** A checkbox list of ids by name (the scope's cameras or hotspots). */
function Picker(props: {
  id: string;
  legend: string;
  items: [string, string][];
  picked: string[];
  set: (p: string[]) => void;
}) {
  return (
    <fieldset class="picker" id={props.id}>
      <legend>{props.legend}</legend>
      {props.items.length === 0 && <p class="hint">{t.value('users.noneToPick')}</p>}
      {props.items.map(([id, name]) => (
        <label key={id} class="pick">
          <input
            type="checkbox"
            value={id}
            checked={props.picked.includes(id)}
            onChange={(e) => props.set(toggled(props.picked, id, (e.currentTarget as HTMLInputElement).checked))}
          />{' '}
          <bdi>{name}</bdi>
        </label>
      ))}
    </fieldset>
  );
}

/** A user's role, picked from the roles by name. */
function RoleField(props: { id: string; role: string; set: (r: string) => void; error: string | null }) {
  return (
    <Field id={props.id} label={t.value('users.role')} error={props.error}>
      {(a) => (
        <select {...a} value={props.role} onChange={(x) => props.set((x.currentTarget as HTMLSelectElement).value)}>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {roleLabel(r)}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

/** A scope's hotspots and cameras, picked by name (`ID-hotspots`, `ID-cameras`). */
function ScopePickers(props: {
  id: string;
  hotspots: string[];
  cameras: string[];
  setHotspots: (p: string[]) => void;
  setCameras: (p: string[]) => void;
}) {
  return (
    <>
      <Picker id={`${props.id}-hotspots`} legend={t.value('users.hotspots')} items={[...names.value.hotspots.entries()]} picked={props.hotspots} set={props.setHotspots} />
      <Picker id={`${props.id}-cameras`} legend={t.value('users.cameras')} items={[...names.value.cameras.entries()]} picked={props.cameras} set={props.setCameras} />
    </>
  );
}

function ScopeText({ scope }: { scope: unknown }) {
  const s = scopeOf(scope);
  if (!s) return <span class="muted">{t.value('users.everything')}</span>;
  if (s.cameras.length === 0 && s.hotspots.length === 0) return <span class="muted">{t.value('users.nothing')}</span>;
  const parts = [
    ...s.hotspots.map((h) => names.value.hotspots.get(h) ?? shortId(h)),
    ...s.cameras.map((c) => names.value.cameras.get(c) ?? shortId(c)),
  ];
  return (
    <span class="scope-list">
      {parts.map((p, i) => (
        <bdi key={i} class="chip">
          {p}
        </bdi>
      ))}
    </span>
  );
}

function NewUserForm({ created }: { created: (u: UserView) => void }) {
  const username = useSignal('');
  const password = useSignal('');
  const role = useSignal('operator');
  const [hotspots, setHotspots] = useState<string[]>([]);
  const [cameras, setCameras] = useState<string[]>([]);
  const [err, setErr] = useState<FormError<UserField> | null>(null);
  const [pending, setPending] = useState(false);
  const e = (f: UserField) => (err?.field === f ? err.message : null);
  const submit = async (ev: Event) => {
    ev.preventDefault();
    if (pending) return;
    setPending(true);
    const r = await createUser({
      username: username.value.trim(),
      password: password.value,
      role: role.value,
      scope: scopeBody({ cameras, hotspots }),
    });
    setPending(false);
    if ('id' in r) {
      setErr(null);
      username.value = '';
      password.value = '';
      setHotspots([]);
      setCameras([]);
      created(r);
    } else {
      setErr(r);
      document.getElementById(r.field ? `user-${r.field}` : 'user-form-error')?.focus();
    }
  };
  return (
    <form class="card ev-form" id="user-form" noValidate onSubmit={submit} aria-labelledby="user-form-title">
      <h2 id="user-form-title">{t.value('users.new')}</h2>
      <Field id="user-username" label={t.value('users.username')} error={e('username')}>
        {(a) => (
          <input
            {...a}
            dir="ltr"
            autocomplete="off"
            spellcheck={false}
            value={username.value}
            onInput={(x) => (username.value = (x.currentTarget as HTMLInputElement).value)}
          />
        )}
      </Field>
      <Field id="user-password" label={t.value('users.password')} error={e('password')} hint={t.value('users.passwordHint')}>
        {(a) => (
          <input
            {...a}
            type="password"
            dir="ltr"
            autocomplete="new-password"
            value={password.value}
            onInput={(x) => (password.value = (x.currentTarget as HTMLInputElement).value)}
          />
        )}
      </Field>
      <RoleField id="user-role" role={role.value} set={(r) => (role.value = r)} error={e('role')} />
      <div class={e('scope') ? 'field field-invalid' : 'field'}>
        <p class="label-like">{t.value('users.scope')}</p>
        <p class="hint" id="user-scope-hint">
          {t.value('users.scopeHint')}
        </p>
        <ScopePickers id="user-scope" hotspots={hotspots} cameras={cameras} setHotspots={setHotspots} setCameras={setCameras} />
        {e('scope') && (
          <p id="user-scope-error" class="error field-error" role="alert">
            {e('scope')}
          </p>
        )}
      </div>
      {err && err.field === null && (
        <p id="user-form-error" class="error" role="alert" tabIndex={-1}>
          {err.message}
        </p>
      )}
      <button type="submit" class="btn btn-primary" disabled={pending}>
        {t.value('users.create')}
      </button>
    </form>
  );
}

function TokenForm({ user, done }: { user: UserView; done: (tok: TokenView | null) => void }) {
  const label = useSignal('');
  const days = useSignal('90');
  const [err, setErr] = useState<FormError<TokenField> | null>(null);
  const [pending, setPending] = useState(false);
  const e = (f: TokenField) => (err?.field === f ? err.message : null);
  const p = `token-${user.id}`;
  return (
    <form
      class="lift-form token-form"
      noValidate
      onSubmit={async (ev) => {
        ev.preventDefault();
        setPending(true);
        const r = await createToken(user.id, label.value, days.value);
        setPending(false);
        if ('token' in r) done(r);
        else setErr(r);
      }}
    >
      <Field id={`${p}-label`} label={t.value('users.tokenLabel')} error={e('label')}>
        {(a) => <input {...a} dir="auto" value={label.value} onInput={(x) => (label.value = (x.currentTarget as HTMLInputElement).value)} />}
      </Field>
      <Field id={`${p}-days`} label={t.value('users.tokenDays')} error={e('days')}>
        {(a) => (
          <input {...a} dir="ltr" inputMode="numeric" value={days.value} onInput={(x) => (days.value = (x.currentTarget as HTMLInputElement).value)} />
        )}
      </Field>
      {err && err.field === null && <ErrorText message={err.message} />}
      <button type="submit" class="btn btn-primary" disabled={pending}>
        {t.value('users.tokenCreate')}
      </button>
      <button type="button" class="btn btn-quiet" onClick={() => done(null)}>
        {t.value('users.cancel')}
      </button>
    </form>
  );
}

function UserRow({ u, reload }: { u: UserView; reload: () => void }) {
  const [tokenFor, setTokenFor] = useState(false);
  const [token, setToken] = useState<TokenView | null>(null);
  const [armed, setArmed] = useState(false);
  const [open, setOpen] = useState<'access' | 'tokens' | null>(null);
  const toggle = (w: 'access' | 'tokens') => setOpen(open === w ? null : w);
  const [error, setError] = useState<string | null>(null);
  return (
    <>
      <tr id={`user-${u.id}`} class={u.disabled_at ? 'user-row disabled' : 'user-row'} data-username={u.username}>
        <td>
          <bdi class="user-name">{u.username}</bdi>
        </td>
        <td>{roleLabel(u.role)}</td>
        <td>
          <ScopeText scope={u.scope} />
        </td>
        <td>
          <When at={u.created_at} />
        </td>
        <td>
          {u.disabled_at ? (
            <span class="muted">
              {t.value('users.disabledAt')} <When at={u.disabled_at} />
            </span>
          ) : (
            <div class="row-actions">
              <button type="button" class="btn btn-small action-access" aria-expanded={open === 'access'} onClick={() => toggle('access')}>
                {t.value('users.access')}
              </button>
              <button type="button" class="btn btn-small action-tokens" aria-expanded={open === 'tokens'} onClick={() => toggle('tokens')}>
                {t.value('users.tokens')}
              </button>
              <button type="button" class="btn btn-small action-token" aria-expanded={tokenFor} onClick={() => setTokenFor(!tokenFor)}>
                {t.value('users.token')}
              </button>
              <button
                type="button"
                class={armed ? 'btn btn-small btn-danger action-disable' : 'btn btn-small action-disable'}
                onClick={async () => {
                  if (!armed) {
                    setArmed(true);
                    setTimeout(() => setArmed(false), 4000);
                    return;
                  }
                  const r = await disableUser(u.id);
                  setError(r);
                  if (r === null) reload();
                }}
              >
                {t.value(armed ? 'users.disableConfirm' : 'users.disable')}
              </button>
            </div>
          )}
          <ErrorText message={error} />
        </td>
      </tr>
      {open === 'access' && !u.disabled_at && (
        <tr class="token-row">
          <td colSpan={5}>
            <AccessForm
              u={u}
              done={() => {
                setOpen(null);
                reload();
              }}
            />
          </td>
        </tr>
      )}
      {open === 'tokens' && (
        <tr class="token-row">
          <td colSpan={5}>
            <TokenList u={u} />
          </td>
        </tr>
      )}
      {(tokenFor || token) && (
        <tr class="token-row">
          <td colSpan={5}>
            {token ? (
              <div class="token-once" role="status">
                <p>
                  <strong>{t.value('users.tokenOnce')}</strong>
                </p>
                <pre class="commands mono" dir="ltr">
                  <code class="new-token">{token.token}</code>
                </pre>
                <p class="hint">
                  {t.value('users.tokenExpires')} <When at={token.expires_at} />
                </p>
                <button type="button" class="btn" onClick={() => setToken(null)}>
                  {t.value('users.tokenDone')}
                </button>
              </div>
            ) : (
              <TokenForm
                user={u}
                done={(tok) => {
                  setTokenFor(false);
                  setToken(tok);
                }}
              />
            )}
          </td>
        </tr>
      )}
    </>
  );
}

/** A user's role and scope, changed; the server's refusal (the last admin, a bad scope) next
 * to what it concerns, the choice kept. */
function AccessForm({ u, done }: { u: UserView; done: () => void }) {
  const current = scopeOf(u.scope);
  const [role, setRole] = useState(u.role);
  // The whole site is said explicitly: nothing picked without it grants nothing.
  const [whole, setWhole] = useState(current === null);
  const [hotspots, setHotspots] = useState<string[]>(current?.hotspots ?? []);
  const [cameras, setCameras] = useState<string[]>(current?.cameras ?? []);
  const [err, setErr] = useState<string | null>(null);
  const p = `access-${u.id}`;
  return (
    <form
      class="lift-form access-form"
      id={p}
      noValidate
      onSubmit={async (ev) => {
        ev.preventDefault();
        const picked = scopeBody({ cameras, hotspots }) ?? { cameras: [], hotspots: [] };
        const r = await ask<UserView>('POST', `/api/users/${u.id}/access`, { role, ...(whole ? {} : { scope: picked }) });
        if ('ok' in r) done();
        else setErr(r.error);
      }}
    >
      <RoleField id={`${p}-role`} role={role} set={setRole} error={null} />
      <label class="sched-always">
        <input type="checkbox" class="access-whole" checked={whole} onChange={(x) => setWhole((x.currentTarget as HTMLInputElement).checked)} /> {t.value('users.wholeSite')}
      </label>
      {!whole && (
        <ScopePickers id={p} hotspots={hotspots} cameras={cameras} setHotspots={setHotspots} setCameras={setCameras} />
      )}
      <p class="hint">{t.value('users.accessHint')}</p>
      {err && (
        <p class="error" role="alert" id={`${p}-error`}>
          {err}
        </p>
      )}
      <button type="submit" class="btn btn-primary">
        {t.value('users.accessSave')}
      </button>
      <button type="button" class="btn btn-quiet" onClick={done}>
        {t.value('users.cancel')}
      </button>
    </form>
  );
}

interface TokenInfo {
  id: string;
  kind: string;
  label: string;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
  last_used_at: string | null;
  live: boolean;
}

/** A user's sign-ins and tokens (never the secret), each live one revocable on its own. */
function TokenList({ u }: { u: UserView }) {
  const [list, setList] = useState<TokenInfo[] | string | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const load = () => {
    void ask<TokenInfo[]>('GET', `/api/users/${u.id}/tokens`).then((r) => setList('ok' in r ? r.ok : r.error));
  };
  useEffect(load, [u.id]);
  if (list === null) return <p class="muted">{t.value('app.loading')}</p>;
  if (typeof list === 'string') return <ErrorText message={list} />;
  if (list.length === 0) return <p class="muted">{t.value('users.noTokens')}</p>;
  return (
    <div class="token-list" id={`tokens-${u.id}`}>
      <ErrorText message={err} />
      <table class="ev-table tokens">
        <Head keys={['users.tokenLabel', 'users.tokenKind', 'users.created_col', 'users.lastUsed', 'users.tokenState', 'search.col.actions']} />
        <tbody>
          {list.map((k) => (
            <tr key={k.id} data-token={k.id} class={k.live ? 'live' : 'dead'}>
              <td>
                <bdi>{k.label}</bdi>
              </td>
              <td>{k.kind === 'session' ? t.value('users.kindSession') : t.value('users.kindApi')}</td>
              <td>
                <When at={k.created_at} />
              </td>
              <td>{k.last_used_at ? <When at={k.last_used_at} /> : <span class="muted">{t.value('users.never')}</span>}</td>
              <td>
                {k.live ? (
                  <span>
                    {t.value('users.liveUntil')} <When at={k.expires_at} />
                  </span>
                ) : k.revoked_at ? (
                  <span class="muted">
                    {t.value('users.revokedAt')} <When at={k.revoked_at} />
                  </span>
                ) : (
                  <span class="muted">{t.value('users.expired')}</span>
                )}
              </td>
              <td>
                {k.live && (
                  <button
                    type="button"
                    class="btn btn-small token-revoke"
                    onClick={async () => {
                      const r = await ask<unknown>('DELETE', `/api/users/${u.id}/tokens/${k.id}`);
                      setErr('error' in r ? r.error : null);
                      load();
                    }}
                  >
                    {t.value('users.revoke')}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Registers a patrol unit: its device token and sign-in link, shown once, and the push key its
 * phone must trust. */
function UnitRegistration({ registered }: { registered: () => void }) {
  const name = useSignal('');
  const kind = useSignal('joint');
  const [err, setErr] = useState<FormError<UnitField> | null>(null);
  const [pending, setPending] = useState(false);
  const [unit, setUnit] = useState<RegisteredUnit | null>(null);
  const e = (f: UnitField) => (err?.field === f ? err.message : null);
  return (
    <section class="card ev-form unit-register" aria-labelledby="unit-register-title">
      <h2 id="unit-register-title">{t.value('units.register')}</h2>
      <form
        id="unit-form"
        noValidate
        onSubmit={async (ev) => {
          ev.preventDefault();
          if (pending) return;
          setPending(true);
          const r = await registerUnit(name.value.trim(), kind.value);
          setPending(false);
          if ('token' in r) {
            setErr(null);
            setUnit(r);
            name.value = '';
            registered();
          } else setErr(r);
        }}
      >
        <div class="field-row">
          <Field id="unit-name" label={t.value('units.name')} error={e('name')} hint={t.value('units.nameHint')}>
            {(a) => (
              <input
                {...a}
                dir="ltr"
                autocomplete="off"
                spellcheck={false}
                value={name.value}
                onInput={(x) => (name.value = (x.currentTarget as HTMLInputElement).value)}
              />
            )}
          </Field>
          <Field id="unit-kind" label={t.value('units.kind')} error={e('kind')}>
            {(a) => (
              <select {...a} value={kind.value} onChange={(x) => (kind.value = (x.currentTarget as HTMLSelectElement).value)}>
                {UNIT_KINDS.map((k) => (
                  <option key={k} value={k}>
                    {unitKindLabel(k)}
                  </option>
                ))}
              </select>
            )}
          </Field>
        </div>
        {err && err.field === null && <ErrorText message={err.message} />}
        <button type="submit" class="btn btn-primary" disabled={pending}>
          {t.value('units.registerSubmit')}
        </button>
      </form>
      {unit && (
        <div class="token-once unit-once" role="status">
          <p>
            <strong>{t.value('units.once', { name: unit.name })}</strong>
          </p>
          <p class="label-like">{t.value('units.link')}</p>
          <pre class="commands mono" dir="ltr">
            <code class="device-link">{deviceLink(location.origin, unit.token)}</code>
          </pre>
          <p class="label-like">{t.value('units.token')}</p>
          <pre class="commands mono" dir="ltr">
            <code class="new-token">{unit.token}</code>
          </pre>
          <p class="hint">
            {t.value('users.tokenExpires')} <When at={unit.expires_at} />
          </p>
          <p class="label-like">{t.value('units.pushKey', { id: unit.push_key.key_id })}</p>
          <pre class="commands mono" dir="ltr">
            <code class="push-key" data-key-id={unit.push_key.key_id}>
              {unit.push_key.public_key}
            </code>
          </pre>
          <button type="button" class="btn" onClick={() => setUnit(null)}>
            {t.value('users.tokenDone')}
          </button>
        </div>
      )}
    </section>
  );
}

export function UsersPage() {
  const [list, setList] = useState<UserView[] | string | null>(null);
  const reload = () => void userList().then(setList);
  useEffect(reload, []);
  if (list === null || typeof list === 'string') return <PendingPage failure={list} pageClass="page evidence-page" />;
  return (
    <main id="main" class="page evidence-page" tabIndex={-1} aria-labelledby="users-title">
      <h1 id="users-title" class="page-title">
        {t.value('users.title')}
      </h1>
      <div class="evidence-layout">
        <div class="admin-forms">
          <NewUserForm created={reload} />
          <UnitRegistration registered={reload} />
        </div>
        <section aria-labelledby="users-list-title">
          <h2 id="users-list-title">{t.value('users.list', { n: list.length })}</h2>
          <table class="ev-table users">
            <Head keys={['users.username', 'users.role', 'users.scope', 'users.created_col', 'search.col.actions']} />
            <tbody>
              {list.map((u) => (
                <UserRow key={u.id} u={u} reload={reload} />
              ))}
            </tbody>
          </table>
        </section>
      </div>
    </main>
  );
}

// ----- audit log -----

export function AuditPage() {
  const actor = useSignal('');
  const action = useSignal('');
  const since = useSignal('');
  const until = useSignal('');
  const [rows, setRows] = useState<AuditView[] | string | null>(null);
  const [before, setBefore] = useState<number | null>(null);
  const [more, setMore] = useState<number | null>(null);
  const [timeError, setTimeError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);

  const load = async (from: number | null) => {
    const s = since.value.trim() === '' ? null : parseLocal(since.value);
    const u = until.value.trim() === '' ? null : parseLocal(until.value);
    if ((since.value.trim() !== '' && s === null) || (until.value.trim() !== '' && u === null)) {
      setTimeError(t.value('search.badTime'));
      return;
    }
    setTimeError(null);
    setPending(true);
    const r = await auditPage(auditQuery({ actor: actor.value, action: action.value, since: s, until: u }, from));
    setPending(false);
    setRows(r);
    setBefore(from);
    setMore(Array.isArray(r) ? nextBefore(r) : null);
  };
  useEffect(() => {
    void load(null);
  }, []);
  const list = Array.isArray(rows) ? rows : [];
  return (
    <main id="main" class="page evidence-page" tabIndex={-1} aria-labelledby="audit-title">
      <h1 id="audit-title" class="page-title">
        {t.value('audit.title')}
      </h1>
      <form
        class="card search-form"
        id="audit-form"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void load(null);
        }}
      >
        <div class="field">
          <label for="audit-actor">{t.value('audit.actor')}</label>
          <input id="audit-actor" dir="ltr" spellcheck={false} value={actor.value} onInput={(e) => (actor.value = (e.currentTarget as HTMLInputElement).value)} />
        </div>
        <div class="field">
          <label for="audit-action">{t.value('audit.action')}</label>
          <input
            id="audit-action"
            dir="ltr"
            spellcheck={false}
            list="audit-actions"
            value={action.value}
            onInput={(e) => (action.value = (e.currentTarget as HTMLInputElement).value)}
          />
          <datalist id="audit-actions">
            {[...new Set(list.map((r) => r.action))].map((a) => (
              <option key={a} value={a} />
            ))}
          </datalist>
        </div>
        <div class="field">
          <label for="audit-since">{t.value('search.since')}</label>
          <input id="audit-since" type="datetime-local" step={1} value={since.value} onInput={(e) => (since.value = (e.currentTarget as HTMLInputElement).value)} />
        </div>
        <div class="field">
          <label for="audit-until">{t.value('search.until')}</label>
          <input id="audit-until" type="datetime-local" step={1} value={until.value} onInput={(e) => (until.value = (e.currentTarget as HTMLInputElement).value)} />
        </div>
        <div class="search-buttons">
          <button type="submit" class="btn btn-primary" disabled={pending}>
            {t.value('audit.show')}
          </button>
        </div>
      </form>
      <ErrorText message={timeError} />
      {typeof rows === 'string' && <ErrorText message={rows} />}
      {rows === null && <p class="muted">{t.value('app.loading')}</p>}
      {Array.isArray(rows) && (
        <p class="hint" role="status">
          {t.value(before === null ? 'audit.countNewest' : 'audit.countOlder', { n: list.length })}
        </p>
      )}
      {list.length > 0 && (
        <table class="ev-table audit-log">
          <Head keys={['search.col.time', 'audit.actor', 'audit.action', 'audit.target', 'audit.outcome', 'audit.source']} />
          <tbody>
            {list.map((r) => (
              <tr key={r.id} class={`audit-row outcome-${r.outcome}`} data-action={r.action} data-actor={r.actor}>
                <td>
                  <When at={r.time} />
                </td>
                <td>
                  <bdi>{r.actor}</bdi>
                  {r.role && <span class="hint"> · {roleLabel(r.role)}</span>}
                </td>
                <td>
                  <bdi class="mono">{r.action}</bdi>
                </td>
                <td>
                  <bdi class="mono">{r.target ?? ''}</bdi>
                  {r.reason && (
                    <span class="hint">
                      {' · '}
                      <bdi>{r.reason}</bdi>
                    </span>
                  )}
                </td>
                <td>
                  <bdi class="mono">{`${r.outcome}${r.status === null ? '' : ` ${r.status}`}`}</bdi>
                </td>
                <td>
                  <bdi class="mono">{r.source_ip ?? ''}</bdi>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div class="search-buttons">
        {before !== null && (
          <button type="button" class="btn" onClick={() => void load(null)}>
            {t.value('audit.newest')}
          </button>
        )}
        {more !== null && (
          <button type="button" class="btn audit-older" onClick={() => void load(more)}>
            {t.value('audit.older', { n: AUDIT_PAGE })}
          </button>
        )}
      </div>
    </main>
  );
}

// ----- site keys and the latest checkpoint -----

export function KeysPage() {
  const [keys, setKeys] = useState<{ key_id: string; pem: string; retired_at: string | null }[] | string | null>(null);
  const [cp, setCp] = useState<CheckpointInfo | string | null>(null);
  const [cams, setCams] = useState<CameraRetention[] | string | null>(null);
  useEffect(() => {
    void cameraRetention().then(setCams);
    void siteKeys().then(setKeys);
    void latestCheckpoint().then(setCp);
  }, []);
  if (keys === null || typeof keys === 'string') return <PendingPage failure={keys} pageClass="page evidence-page" />;
  return (
    <main id="main" class="page evidence-page" tabIndex={-1} aria-labelledby="keys-title">
      <h1 id="keys-title" class="page-title">
        {t.value('sitekeys.title')}
      </h1>
      <table class="ev-table site-keys">
        <Head keys={['sitekeys.id', 'sitekeys.state', 'sitekeys.file']} />
        <tbody>
          {keys.map((k) => (
            <tr key={k.key_id}>
              <td>
                <bdi class="mono">{k.key_id}</bdi>
              </td>
              <td>
                {k.retired_at ? (
                  <span>
                    {t.value('sitekeys.retired')} <When at={k.retired_at} />
                  </span>
                ) : (
                  <strong>{t.value('sitekeys.current')}</strong>
                )}
              </td>
              <td>
                <a href={`data:application/x-pem-file;charset=utf-8,${encodeURIComponent(k.pem)}`} download={KEY_FILE}>
                  {t.value('sitekeys.download')}
                </a>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>{t.value('sitekeys.checkpoint')}</h2>
      {typeof cp === 'string' && <ErrorText message={cp} />}
      {cp === null && <p class="muted">{t.value('app.loading')}</p>}
      {typeof cp === 'object' && cp !== null && (
        <section class="card ev-form checkpoint">
          <dl class="facts">
            <div>
              <dt>{t.value('sitekeys.size')}</dt>
              <dd>
                <bdi class="mono checkpoint-size">{cp.size}</bdi>
              </dd>
            </div>
            {checkpointTime(cp.text) && (
              <div>
                <dt>{t.value('sitekeys.time')}</dt>
                <dd>
                  <When at={checkpointTime(cp.text) ?? ''} />
                </dd>
              </div>
            )}
            <div>
              <dt>{t.value('sitekeys.id')}</dt>
              <dd>
                <bdi class="mono">{cp.key_id}</bdi>
              </dd>
            </div>
            <div>
              <dt>{t.value('sitekeys.root')}</dt>
              <dd>
                <bdi class="mono root-hash">{cp.root}</bdi>
              </dd>
            </div>
          </dl>
          <pre class="commands mono" dir="ltr">
            <code>{cp.text}</code>
          </pre>
        </section>
      )}
      {mayDo(session.value?.role ?? '', 'manage_cameras') ? <Storage /> : <h2>{t.value('retention.title')}</h2>}
      {typeof cams === 'string' && <ErrorText message={cams} />}
      {Array.isArray(cams) && !mayDo(session.value?.role ?? '', 'manage_cameras') && (
        <table class="ev-table retention">
          <Head keys={['search.camera', 'retention.age', 'retention.bytes']} />
          <tbody>
            {cams.map((c) => (
              <tr key={c.id} data-camera={c.id}>
                <td>
                  <bdi>{c.name}</bdi>
                </td>
                <RetentionCells secs={c.retention_max_age_secs} bytes={c.retention_max_bytes} />
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}

// ----- storage and retention per camera -----

interface StorageView {
  free_bytes: number;
  total_bytes: number;
  used_bytes: number;
  cameras: {
    camera: string;
    name: string;
    bytes: number;
    retention_max_age_secs: number | null;
    retention_max_bytes: number | null;
  }[];
}

/** Footage per camera, the disk's free space, and each camera's retention, editable. */
function Storage() {
  const [view, setView] = useState<StorageView | string | null>(null);
  const [editing, setEditing] = useState<string | null>(null);
  // Shortening retention deletes footage: an admin's change (the route needs ManageUsers).
  const canEdit = mayDo(session.value?.role ?? '', 'manage_users');
  const load = () => {
    void ask<StorageView>('GET', '/api/storage').then((r) => setView('ok' in r ? r.ok : r.error));
  };
  useEffect(load, []);
  return (
    <section aria-labelledby="storage-title" class="storage">
      <h2 id="storage-title">{t.value('storage.title')}</h2>
      {view === null && <p class="muted">{t.value('app.loading')}</p>}
      {typeof view === 'string' && <ErrorText message={view} />}
      {view !== null && typeof view !== 'string' && (
        <>
          <p class="storage-free" id="storage-free">
            <span class="storage-big">
              <bdi class="mono">{sizeText(view.free_bytes)}</bdi>
            </span>{' '}
            {t.value('storage.free', { total: isolate(sizeText(view.total_bytes)) })}
          </p>
          <meter class="storage-meter" min={0} max={view.total_bytes} low={view.total_bytes * 0.8} high={view.total_bytes * 0.9} optimum={0} value={view.total_bytes - view.free_bytes} aria-label={t.value('storage.meter')} />
          <table class="ev-table retention">
            <Head keys={['search.camera', 'storage.used', 'retention.age', 'retention.bytes', 'search.col.actions']} />
            <tbody>
              {view.cameras.map((c) => {
                const days = retentionDays(c.retention_max_age_secs);
                const bytes = c.retention_max_bytes ?? null;
                return (
                  <Fragment key={c.camera}>
                    <tr data-camera={c.camera}>
                      <td>
                        <bdi>{c.name}</bdi>
                      </td>
                      <td>
                        <bdi class="mono">{sizeText(c.bytes)}</bdi>
                      </td>
                      <RetentionCells secs={c.retention_max_age_secs} bytes={bytes} />
                      <td>
                        {canEdit && (
                          <button type="button" class="btn btn-small retention-edit" aria-expanded={editing === c.camera} onClick={() => setEditing(editing === c.camera ? null : c.camera)}>
                            {t.value('storage.edit')}
                          </button>
                        )}
                      </td>
                    </tr>
                    {editing === c.camera && (
                      <tr class="token-row">
                        <td colSpan={5}>
                          <RetentionForm
                            camera={c.camera}
                            days={days}
                            bytes={bytes}
                            done={() => {
                              setEditing(null);
                              load();
                            }}
                          />
                        </td>
                      </tr>
                    )}
                  </Fragment>
                );
              })}
            </tbody>
          </table>
          <p class="hint">{t.value('storage.note')}</p>
        </>
      )}
    </section>
  );
}

/** A camera's own retention by age and by size; neither: the site's default
 * (`[recording]`). */
function RetentionCells({ secs, bytes }: { secs: number | null | undefined; bytes: number | null | undefined }) {
  const days = retentionDays(secs);
  const fallback = <span class="muted">{t.value('storage.siteDefault')}</span>;
  return (
    <>
      <td>{days === null ? fallback : t.value('retention.days', { n: days })}</td>
      <td>{bytes === null || bytes === undefined || bytes <= 0 ? fallback : <bdi class="mono">{sizeText(bytes)}</bdi>}</td>
    </>
  );
}

const GIB = 1024 * 1024 * 1024;

function RetentionForm(props: { camera: string; days: number | null; bytes: number | null; done: () => void }) {
  const [days, setDays] = useState(props.days === null ? '' : String(props.days));
  const [gib, setGib] = useState(props.bytes === null ? '' : String(Math.round((props.bytes / GIB) * 10) / 10));
  const [err, setErr] = useState<{ message: string; field: 'days' | 'size' | null } | null>(null);
  const p = `ret-${props.camera}`;
  const send = async (body: Record<string, number | string>) => {
    const r = await ask<unknown>('PUT', `/api/cameras/${encodeURIComponent(props.camera)}/retention`, body);
    if ('ok' in r) props.done();
    else setErr({ message: r.error, field: r.error.includes('max_age_days') ? 'days' : r.error.includes('max_bytes') ? 'size' : null });
  };
  const num = (v: string) => Number(v.trim().replace(',', '.'));
  return (
    <form
      class="lift-form retention-form"
      noValidate
      onSubmit={(ev) => {
        ev.preventDefault();
        // What is not a number is sent as typed, for the server to refuse by name.
        const body: Record<string, number | string> = {};
        if (days.trim() !== '') body.max_age_days = Number.isFinite(num(days)) ? num(days) : days;
        if (gib.trim() !== '') body.max_bytes = Number.isFinite(num(gib)) ? Math.round(num(gib) * GIB) : gib;
        void send(body);
      }}
    >
      <Field id={`${p}-days`} label={t.value('storage.days')} error={err?.field === 'days' ? err.message : null} hint={t.value('storage.emptyDefault')}>
        {(a) => <input {...a} dir="ltr" inputMode="decimal" value={days} onInput={(x) => setDays((x.currentTarget as HTMLInputElement).value)} />}
      </Field>
      <Field id={`${p}-gib`} label={t.value('storage.gib')} error={err?.field === 'size' ? err.message : null}>
        {(a) => <input {...a} dir="ltr" inputMode="decimal" value={gib} onInput={(x) => setGib((x.currentTarget as HTMLInputElement).value)} />}
      </Field>
      {err && err.field === null && <ErrorText message={err.message} />}
      <button type="submit" class="btn btn-primary">
        {t.value('storage.save')}
      </button>
      <button type="button" class="btn" onClick={() => void send({})}>
        {t.value('storage.useDefault')}
      </button>
      <button type="button" class="btn btn-quiet" onClick={props.done}>
        {t.value('users.cancel')}
      </button>
    </form>
  );
}
