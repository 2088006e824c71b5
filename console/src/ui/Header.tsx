// The header: product name, navigation, connection state, who is signed in, language, sound,
// sign-out. Every control is a labelled button; states are written out, not only coloured.

import { signOut } from '../actions';
import {
  clockSuspect,
  conn,
  lang,
  muted,
  refusedCount,
  route,
  session,
  setLang,
  setMuted,
  t,
} from '../store';

function ConnBadge() {
  const s = conn.value;
  if (s === 'stopped') return null;
  const key =
    s === 'live'
      ? 'conn.live'
      : s === 'connecting'
        ? 'conn.connecting'
        : s === 'reconnecting'
          ? 'conn.reconnecting'
          : 'conn.unsupported';
  return (
    <p class={`conn conn-${s}`} role="status">
      <span class="conn-dot" aria-hidden="true" />
      {t.value(key)}
      {refusedCount.value > 0 && (
        <span class="conn-extra">
          {t.value('conn.refused', { n: refusedCount.value })}
        </span>
      )}
      {clockSuspect.value && <span class="conn-extra">{t.value('conn.clock')}</span>}
    </p>
  );
}

export function Header() {
  const me = session.value;
  const other = lang.value === 'he' ? 'en' : 'he';
  return (
    <header class="app-header">
      <p class="brand">
        <span class="brand-name">{t.value('app.name')}</span>
      </p>
      {me && me.role !== 'unit' && (
        <nav aria-label={t.value('nav.label')}>
          <a href="#/alerts" aria-current={route.value === 'alerts' ? 'page' : undefined}>
            {t.value('nav.alerts')}
          </a>
          <a href="#/live" aria-current={route.value === 'live' ? 'page' : undefined}>
            {t.value('nav.live')}
          </a>
          <a href="#/playback" aria-current={route.value === 'playback' ? 'page' : undefined}>
            {t.value('nav.playback')}
          </a>
          <a href="#/units" aria-current={route.value === 'units' ? 'page' : undefined}>
            {t.value('nav.units')}
          </a>
        </nav>
      )}
      <ConnBadge />
      <div class="header-tools">
        {me && (
          <p class="who">
            <span class="visually-hidden">{t.value('header.signedInAs')} </span>
            <bdi>{me.username}</bdi>
          </p>
        )}
        <button
          type="button"
          class="btn btn-quiet"
          lang={other}
          onClick={() => setLang(other)}
        >
          {t.value('header.otherLanguage')}
        </button>
        <button
          type="button"
          class="btn btn-quiet btn-toggle"
          aria-pressed={muted.value}
          onClick={() => setMuted(!muted.value)}
        >
          {t.value('header.mute')}
        </button>
        {me && (
          <button type="button" class="btn btn-quiet" onClick={() => void signOut()}>
            {t.value('header.signOut')}
          </button>
        )}
      </div>
    </header>
  );
}
