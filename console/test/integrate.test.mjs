// The integrator's pages without DOM: camera health, the add-a-camera body and its refusals,
// ONVIF profile choice, webhook bodies and the delivery log's pages.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lib } from './helpers.mjs';

const ig = await lib('integrate');

const cam = (health, enabled = true) => ({
  id: 'c1', name: 'Gate', url: 'rtsp://h/x', transport: 'tcp', enabled, username: null, has_password: false, health,
});
const health = (o) => ({
  state: 'streaming', last_frame_at: 1_000_000, fps: 5, bitrate_bps: 800_000, reconnects: 0, frames: 1, bytes: 1,
  last_error: null, codec: 'h264', width: 768, height: 576, ...o,
});

test('a camera without health is idle; an unknown state reads as unknown; enabled and not streaming is trouble', () => {
  assert.equal(ig.streamState(cam(null)), 'idle');
  assert.equal(ig.streamState(cam(health({ state: 'backoff' }))), 'backoff');
  assert.equal(ig.streamState(cam(health({ state: 'sideways' }))), 'unknown');
  assert.equal(ig.troubled(cam(health({}))), false);
  assert.equal(ig.troubled(cam(health({ state: 'connecting' }))), true);
  assert.equal(ig.troubled(cam(null, false)), false);
});

test('rates, frame rates, ages and sizes are written with ASCII digits', () => {
  assert.deepEqual(ig.bitrateText(800_000), { value: '800', unit: 'kbit/s' });
  assert.deepEqual(ig.bitrateText(2_450_000), { value: '2.5', unit: 'Mbit/s' });
  assert.deepEqual(ig.bitrateText(Number.NaN), { value: '0', unit: 'kbit/s' });
  assert.equal(ig.fpsText(4.96), '5.0');
  assert.equal(ig.fpsText(0), '—');
  assert.equal(ig.lastFrameAge(health({ last_frame_at: 1_000_000 }), 66_000_000), '1:05');
  assert.equal(ig.lastFrameAge(health({ last_frame_at: null }), 66_000_000), '—');
  assert.equal(ig.lastFrameAge(null, 1), '—');
  assert.equal(ig.sizeOf(768, 576), '768×576');
  assert.equal(ig.sizeOf(null, 576), '—');
});

test('the add-a-camera body carries only what was typed, the password as typed', () => {
  assert.deepEqual(ig.newCameraBody({ name: ' Gate ', url: ' rtsp://h/x ', username: ' ', password: '' }), {
    name: 'Gate',
    url: 'rtsp://h/x',
  });
  assert.deepEqual(ig.newCameraBody({ name: 'G', url: 'rtsp://h/x', username: 'op', password: ' p w ' }), {
    name: 'G',
    url: 'rtsp://h/x',
    username: 'op',
    password: ' p w ',
  });
});

test('a refusal goes next to the field the server names', () => {
  assert.equal(ig.cameraFieldOf('camera URL contains characters that are not allowed (shell or quoting syntax)'), 'url');
  assert.equal(ig.cameraFieldOf('camera URL must not contain credentials; pass username and password separately'), 'url');
  assert.equal(ig.cameraFieldOf('camera name is empty'), 'name');
  assert.equal(ig.cameraFieldOf('a password needs a username'), 'password');
  assert.equal(ig.cameraFieldOf('the database is busy'), null);
  assert.equal(ig.approveFieldOf('main_profile "x" is not a profile of the device'), 'main_profile');
  assert.equal(ig.approveFieldOf('ONVIF: the device refused the login'), null);
});

const dev = {
  manufacturer: 'PythonCam',
  model: 'VirtualCam-1',
  profiles: [
    { token: 'Profile_Main', name: 'Main', encoding: 'H264', width: 768, height: 576, fps: 25, usable: true },
    { token: 'Profile_Sub', name: 'Sub', encoding: 'H264', width: 640, height: 360, fps: null, usable: true },
    { token: 'Jpeg', name: 'Snap', encoding: 'JPEG', width: 320, height: 240, fps: 1, usable: false },
  ],
  main: 'Profile_Main',
  sub: 'Profile_Sub',
};

test('profiles offered: only usable ones, the sub never the main, the rule first', () => {
  assert.deepEqual(ig.mainOptions(dev).map((p) => p.token), ['Profile_Main', 'Profile_Sub']);
  assert.deepEqual(ig.subOptions(dev, 'Profile_Sub').map((p) => p.token), ['Profile_Main']);
  assert.deepEqual(ig.defaultChoice(dev), { main: 'Profile_Main', sub: 'Profile_Sub' });
  assert.deepEqual(ig.defaultChoice({ ...dev, main: null, sub: null }), { main: 'Profile_Main', sub: '' });
  assert.deepEqual(ig.defaultChoice({ ...dev, profiles: [], main: null, sub: null }), { main: '', sub: '' });
  assert.deepEqual(ig.withMain({ main: 'Profile_Main', sub: 'Profile_Sub' }, 'Profile_Sub'), { main: 'Profile_Sub', sub: '' });
  assert.deepEqual(ig.withMain({ main: 'Profile_Sub', sub: '' }, 'Profile_Main'), { main: 'Profile_Main', sub: '' });
  assert.equal(ig.profileLabel(dev.profiles[0]), 'Main · H264 768×576 · 25 fps');
  assert.equal(ig.profileLabel(dev.profiles[1]), 'Sub · H264 640×360');
});

test('approving sends the discovered id, the login only when typed, and both profiles', () => {
  assert.deepEqual(ig.approveBody(7, ' Gate ', { username: 'admin', password: 'pw' }, { main: 'M', sub: '' }), {
    discovered_id: 7,
    username: 'admin',
    password: 'pw',
    name: 'Gate',
    main_profile: 'M',
    sub_profile: '',
  });
  assert.deepEqual(ig.probeBody(7, { username: '', password: '' }), { discovered_id: 7 });
});

test('a device is called by its name, its hardware, or its host', () => {
  const d = { id: 1, endpoint_ref: 'urn:uuid:1', xaddrs: ['http://user@10.0.0.7:8080/onvif/device_service'], name: null,
    hardware: null, location: null, scopes: [], from: '', first_seen: '', last_seen: '', state: 'pending', camera_id: null };
  assert.equal(ig.deviceLabel(d), '10.0.0.7:8080');
  assert.equal(ig.deviceLabel({ ...d, hardware: 'VirtualCam-1' }), 'VirtualCam-1');
  assert.equal(ig.deviceLabel({ ...d, name: 'Roeh-Test-Cam' }), 'Roeh-Test-Cam');
  assert.equal(ig.deviceLabel({ ...d, xaddrs: ['not a url'] }), 'urn:uuid:1');
});

test('webhook bodies and refusals', () => {
  assert.deepEqual(ig.kindsOf(' alert_raised, alert_closed  alert_raised '), ['alert_raised', 'alert_closed']);
  assert.deepEqual(
    ig.webhookBody({ name: ' Ops ', url: ' http://10.0.0.2/hook ', secret: ' s ', kinds: '', format: 'cap' }),
    { name: 'Ops', url: 'http://10.0.0.2/hook', secret: ' s ', kinds: [], format: 'cap' },
  );
  assert.equal(ig.webhookFieldOf('webhook target refused: loopback address 127.0.0.1'), 'url');
  assert.equal(ig.webhookFieldOf("the webhook URL's host does not resolve: x"), 'url');
  assert.equal(ig.webhookFieldOf('a webhook secret is 16 to 512 bytes'), 'secret');
  assert.equal(ig.webhookFieldOf('a webhook name is 1 to 100 characters'), 'name');
  assert.equal(ig.webhookFieldOf('kinds are at most 32 event kinds'), 'kinds');
  assert.equal(ig.webhookFieldOf('the database is busy'), null);
});

test('the delivery log is paged by seq', () => {
  assert.equal(ig.deliveriesQuery(null), 'limit=50');
  assert.equal(ig.deliveriesQuery(12, 2), 'limit=2&before=12');
  const d = (seq) => ({ seq });
  assert.equal(ig.nextDeliveries([d(9), d(8)], 2), 8);
  assert.equal(ig.nextDeliveries([d(9)], 2), null);
  assert.equal(ig.nextDeliveries([], 2), null);
});

test('the last frame is shown as a clock time of the site', async () => {
  const { setSiteZone } = await lib('zone');
  setSiteZone('UTC');
  assert.equal(ig.lastFrameTime({ last_frame_at: Date.UTC(2026, 0, 2, 3, 4, 5) * 1000 }), '03:04:05');
  assert.equal(ig.lastFrameTime(null), '—');
});
