// Script calls written as one buffer built by Rebound (core/redis/packed-script.ts), as the roles'
// own connections send them: Redis receives every key and argument byte for byte, whatever its
// characters or bytes, and a call whose script Redis no longer has (SCRIPT FLUSH) goes through.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { LuaScript } from '../../src/core/redis/packed-script.js';

const echo = new LuaScript('return {KEYS, ARGV}');
let client: Redis;
beforeAll(() => {
  client = new Redis(inject('redisUrl'), { enableAutoPipelining: false });
});
afterAll(() => client.disconnect());

describe('a packed script call', () => {
  it('carries keys and arguments unchanged: ASCII, UTF-8, empty, binary, numbers, many', async () => {
    const keys = ['{p1}:v:ascii', '{p1}:v:été-日本', '', ...Array.from({ length: 1500 }, (_, i) => `{p1}:v:${String(i).padStart(38, '7')}`)];
    const binary = Buffer.from([0, 255, 13, 10, 0x24, 0x2a, 128, 7]);
    const [gotKeys, gotArgs] = (await echo.run(client, keys, ['detect', binary, 1_790_000_000_123, 'ünïcode', ''], null)) as [Buffer[], Buffer[]];
    expect(gotKeys.map((k) => k.toString('utf8'))).toEqual(keys);
    expect(gotArgs).toEqual([Buffer.from('detect'), binary, Buffer.from('1790000000123'), Buffer.from('ünïcode'), Buffer.from('')]);
  });

  it('answers as text with utf8 replies', async () => {
    expect(await echo.run(client, ['k'], ['ä'], 'utf8')).toEqual([['k'], ['ä']]);
  });

  it('goes through after Redis lost its scripts (sent again in full)', async () => {
    expect(await echo.run(client, ['a'], ['1'], 'utf8')).toEqual([['a'], ['1']]);
    await client.script('FLUSH');
    expect(await echo.run(client, ['b'], ['2'], 'utf8')).toEqual([['b'], ['2']]);
    expect(await echo.run(client, ['c'], ['3'], 'utf8')).toEqual([['c'], ['3']]);
  });

  it('reports a script error as an error', async () => {
    await client.set('{p1}:not-a-number', 'x');
    await expect(new LuaScript("return redis.call('INCR', KEYS[1])").run(client, ['{p1}:not-a-number'], [], 'utf8')).rejects.toThrow(/not an integer/);
  });
});
