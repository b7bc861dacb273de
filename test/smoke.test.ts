import { describe, expect, it } from 'vitest';
import { runSmoke } from '../src/cli/smoke.js';

describe('smoke run', () => {
  it('the loss falls within 30 steps on the learnable random target', () => {
    const lines: string[] = [];
    const r = runSmoke({ steps: 30, seed: 0, log: (l) => lines.push(l) });
    expect(r.losses).toHaveLength(30);
    const head = r.losses.slice(0, 3).reduce((a, b) => a + b, 0) / 3;
    const tail = r.losses.slice(-3).reduce((a, b) => a + b, 0) / 3;
    expect(tail).toBeLessThan(0.75 * head);
    expect(lines[0]).toMatch(/smoke: U-Net depth 3/);
  });
});
