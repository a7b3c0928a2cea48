import { describe, expect, it } from 'vitest';
import { campaign } from './page-context';

describe('campaign', () => {
  it("reads the UTM parameters, and nothing from parameters named like Object's members", () => {
    expect(campaign('?utm_source=news&utm_campaign=spring&ref=x')).toEqual({ source: 'news', name: 'spring' });
    expect(campaign('?constructor=1&__proto__=2&toString=3&hasOwnProperty=4')).toBeUndefined();
  });
});
