import { describe, expect, it } from 'vitest';
import { AlertWindow, alertWindowOf } from '../../jobs/alert-window.js';

describe('alert window', () => {
  it('lets one alert per integration through within the quiet time, and the next after it', () => {
    const window = new AlertWindow(60_000);
    expect(window.admit(['revoke:pg'], 0)).toBe(true);
    expect(window.admit(['revoke:pg'], 59_999)).toBe(false);
    expect(window.admit(['revoke:mysql'], 30_000)).toBe(true);
    expect(window.admit(['revoke:pg'], 60_000)).toBe(true);
  });

  it('holds back an alert naming several integrations when any of them was alerted about', () => {
    const window = new AlertWindow(60_000);
    expect(window.admit(['revoke:pg'], 0)).toBe(true);
    expect(window.admit(['revoke:pg', 'revoke:mysql'], 10)).toBe(false);
  });

  it('keeps one window per running Latch', () => {
    const one = {};
    const other = {};
    expect(alertWindowOf(one)).toBe(alertWindowOf(one));
    expect(alertWindowOf(one)).not.toBe(alertWindowOf(other));
  });
});
