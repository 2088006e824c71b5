// Entry point: styles, the alarm's audio unlock, the session check, and the app.

import { render } from 'preact';
import './app.css';
import { checkSession } from './actions';
import { armAudioOnGesture } from './sound';
import { App } from './ui/App';

armAudioOnGesture();
const root = document.getElementById('app');
if (root) {
  render(<App />, root);
  void checkSession();
}
