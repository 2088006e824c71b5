// Sign-in and first-admin pages. Errors are the server's message, shown as text.

import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { deviceSignIn, firstAdmin, signIn } from '../actions';
import { drafts, t } from '../store';
import { ErrorText } from './ErrorText';

function Field(props: {
  id: string;
  label: string;
  type?: string;
  autocomplete: string;
  value: string;
  onInput: (v: string) => void;
  hint?: string;
}) {
  const hintId = props.hint ? `${props.id}-hint` : undefined;
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <input
        id={props.id}
        name={props.id}
        type={props.type ?? 'text'}
        autocomplete={props.autocomplete}
        required
        dir="auto"
        spellcheck={false}
        autocapitalize="off"
        value={props.value}
        aria-describedby={hintId}
        onInput={(e) => props.onInput((e.currentTarget as HTMLInputElement).value)}
      />
      {props.hint && (
        <p id={hintId} class="hint">
          {props.hint}
        </p>
      )}
    </div>
  );
}

/** The end of each sign-in form: the server's refusal as text, the submit button, the links. */
function Submit(props: { error: string | null; pending: boolean; label: string; pendingLabel: string }) {
  return (
    <>
      <ErrorText message={props.error} />
      <button type="submit" class="btn btn-primary" disabled={props.pending}>
        {props.pending ? props.pendingLabel : props.label}
      </button>
    </>
  );
}

export function SignInPage() {
  const username = useSignal('');
  const password = useSignal('');
  const error = useSignal<string | null>(null);
  const pending = useSignal(false);
  const kept = drafts.value.size;
  const submit = async (e: Event) => {
    e.preventDefault();
    if (pending.value) return;
    pending.value = true;
    error.value = await signIn(username.value.trim(), password.value);
    pending.value = false;
    if (error.value === null) password.value = '';
  };
  return (
    <main id="main" class="page-center" tabIndex={-1}>
      <form class="card form" onSubmit={submit} aria-labelledby="signin-title" noValidate>
        <h1 id="signin-title">{t.value('signin.title')}</h1>
        {kept > 0 && <p class="hint">{t.value('signin.draftsKept', { n: kept })}</p>}
        <Field
          id="username"
          label={t.value('signin.username')}
          autocomplete="username"
          value={username.value}
          onInput={(v) => (username.value = v)}
        />
        <Field
          id="password"
          label={t.value('signin.password')}
          type="password"
          autocomplete="current-password"
          value={password.value}
          onInput={(v) => (password.value = v)}
        />
        <Submit error={error.value} pending={pending.value} label={t.value('signin.submit')} pendingLabel={t.value('signin.pending')} />
        <p class="hint">
          <a href="#/setup">{t.value('signin.toSetup')}</a>
        </p>
        <p class="hint">
          <a href="#/device">{t.value('unit.signin.link')}</a>
        </p>
      </form>
    </main>
  );
}

export function SetupPage() {
  const token = useSignal('');
  const username = useSignal('');
  const password = useSignal('');
  const error = useSignal<string | null>(null);
  const pending = useSignal(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (pending.value) return;
    pending.value = true;
    error.value = await firstAdmin(token.value.trim(), username.value.trim(), password.value);
    pending.value = false;
  };
  return (
    <main id="main" class="page-center" tabIndex={-1}>
      <form class="card form" onSubmit={submit} aria-labelledby="setup-title" noValidate>
        <h1 id="setup-title">{t.value('setup.title')}</h1>
        <p class="hint">{t.value('setup.intro')}</p>
        <Field
          id="setup-token"
          label={t.value('setup.token')}
          autocomplete="off"
          value={token.value}
          onInput={(v) => (token.value = v)}
        />
        <Field
          id="setup-username"
          label={t.value('setup.username')}
          autocomplete="username"
          value={username.value}
          onInput={(v) => (username.value = v)}
          hint={t.value('setup.usernameHint')}
        />
        <Field
          id="setup-password"
          label={t.value('setup.password')}
          type="password"
          autocomplete="new-password"
          value={password.value}
          onInput={(v) => (password.value = v)}
          hint={t.value('setup.passwordHint')}
        />
        <Submit error={error.value} pending={pending.value} label={t.value('setup.submit')} pendingLabel={t.value('setup.pending')} />
        <p class="hint">
          <a href="#/login">{t.value('setup.toSignIn')}</a>
        </p>
      </form>
    </main>
  );
}

/**
 * A patrol unit's phone signs in with the unit's device token, typed or pasted, or carried once in
 * the address's fragment (`#/device/TOKEN`, which never reaches a server): the fragment is
 * removed from the address and the history at once, and the token is not kept.
 */
export function DevicePage() {
  const token = useSignal('');
  const error = useSignal<string | null>(null);
  const pending = useSignal(false);
  const run = async (value: string) => {
    if (pending.value) return;
    pending.value = true;
    error.value = await deviceSignIn(value);
    pending.value = false;
    if (error.value === null) token.value = '';
  };
  useEffect(() => {
    const prefix = '#/device/';
    if (location.hash.startsWith(prefix)) {
      const carried = location.hash.slice(prefix.length);
      history.replaceState(null, '', '#/device');
      if (carried !== '') void run(decodeURIComponent(carried));
    }
  }, []);
  const submit = (e: Event) => {
    e.preventDefault();
    void run(token.value);
  };
  return (
    <main id="main" class="page-center" tabIndex={-1}>
      <form class="card form" onSubmit={submit} aria-labelledby="device-title" noValidate>
        <h1 id="device-title">{t.value('unit.signin.title')}</h1>
        <Field
          id="device-token"
          label={t.value('unit.signin.token')}
          type="password"
          autocomplete="off"
          value={token.value}
          onInput={(v) => (token.value = v)}
          hint={t.value('unit.signin.help')}
        />
        <Submit error={error.value} pending={pending.value} label={t.value('unit.signin.submit')} pendingLabel={t.value('signin.pending')} />
        <p class="hint">
          <a href="#/login">{t.value('setup.toSignIn')}</a>
        </p>
      </form>
    </main>
  );
}
