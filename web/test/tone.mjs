#!/usr/bin/env node
// Writes a sine tone as a 16-bit PCM mono WAV, for Chromium's fake
// microphone (--use-file-for-fake-audio-capture), which loops it.
//
//   node web/test/tone.mjs OUT.wav [HZ=700] [SECONDS=5] [RATE=48000]
import { writeFileSync } from 'node:fs';

const [out, hz = '700', seconds = '5', rate = '48000'] = process.argv.slice(2);
if (!out) {
  console.error('usage: node tone.mjs OUT.wav [HZ=700] [SECONDS=5] [RATE=48000]');
  process.exit(2);
}
writeFileSync(out, toneWAV(Number(hz), Number(seconds), Number(rate)));

// toneWAV is a RIFF/WAVE file of a sine at hz, half of full scale.
function toneWAV(hz, seconds, rate) {
  const n = Math.round(seconds * rate);
  const buf = Buffer.alloc(44 + 2 * n);
  buf.write('RIFF', 0);
  buf.writeUInt32LE(36 + 2 * n, 4);
  buf.write('WAVE', 8);
  buf.write('fmt ', 12);
  buf.writeUInt32LE(16, 16); // fmt chunk size
  buf.writeUInt16LE(1, 20); // PCM
  buf.writeUInt16LE(1, 22); // mono
  buf.writeUInt32LE(rate, 24);
  buf.writeUInt32LE(rate * 2, 28); // bytes per second
  buf.writeUInt16LE(2, 32); // block align
  buf.writeUInt16LE(16, 34); // bits per sample
  buf.write('data', 36);
  buf.writeUInt32LE(2 * n, 40);
  for (let i = 0; i < n; i++) {
    buf.writeInt16LE(Math.round(16383 * Math.sin((2 * Math.PI * hz * i) / rate)), 44 + 2 * i);
  }
  return buf;
}
