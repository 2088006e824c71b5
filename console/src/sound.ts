// The alarm: a short tone made with WebAudio (no audio file). Browsers start audio only after a
// user gesture, so the context is created on the first key press or click.
//
// Invariants:
// - never throws: a browser without WebAudio, or with audio blocked, is simply silent;
// - a critical alert plays three pulses, a high one two, so the two differ without looking.

type Ctx = AudioContext;
let ctx: Ctx | null = null;

function unlock(): void {
  try {
    if (!ctx) {
      const C =
        window.AudioContext ??
        (window as unknown as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext;
      if (!C) return;
      ctx = new C();
    }
    if (ctx.state === 'suspended') void ctx.resume();
  } catch {
    ctx = null;
  }
}

/** Arms the alarm on the first gesture (call once at start). */
export function armAudioOnGesture(): void {
  const opts = { capture: true, passive: true } as const;
  window.addEventListener('pointerdown', unlock, opts);
  window.addEventListener('keydown', unlock, opts);
}

/** Plays the alarm for a new alert (`pulses` short tones). */
export function chime(pulses: number): void {
  if (!ctx) return;
  try {
    const start = ctx.currentTime + 0.02;
    for (let i = 0; i < pulses; i++) {
      const at = start + i * 0.22;
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = 'square';
      osc.frequency.setValueAtTime(i % 2 === 0 ? 880 : 660, at);
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.25, at + 0.01);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.16);
      osc.connect(gain).connect(ctx.destination);
      osc.start(at);
      osc.stop(at + 0.18);
    }
  } catch {
    // Silent rather than broken.
  }
}
