// What the detect stage and its timers need of the definitions, rebuilt once per definitions
// version: the trigger index, triggers by slot, the sources' visit rules and the hit effects.
import type { Keys } from '../../core/redis/keys.js';
import type { RedisPort } from '../../core/redis/client.js';
import type { Source } from '../../model/source.js';
import { loadSources } from '../../model/source-store.js';
import { loadTriggers, recordLive } from '../../model/trigger-store.js';
import { TriggerIndex, type CompiledTrigger } from './trigger-index.js';
import { EffectBuilder, type EffectSettings } from './hit-effects.js';

export interface DetectDefinitions {
  index: TriggerIndex;
  bySlot: ReadonlyMap<number, CompiledTrigger>;
  sources: ReadonlyMap<string, Source>;
  effects: EffectBuilder;
}

export async function loadDetectDefinitions(redis: RedisPort, keys: Keys, settings: EffectSettings, now = Date.now()): Promise<DetectDefinitions> {
  const [{ triggers }, { sources }] = await Promise.all([loadTriggers(redis, keys), loadSources(redis, keys)]);
  const index = new TriggerIndex(triggers);
  const bySlot = new Map<number, CompiledTrigger>();
  for (const source of new Set(triggers.map((t) => t.source))) {
    for (const compiled of index.forSource(source)?.triggers ?? []) bySlot.set(compiled.stored.slot, compiled);
  }
  // The first process to load a version records when it went live (SPEC §5).
  await Promise.all([...bySlot.values()].map((compiled) => recordLive(redis, keys, compiled.stored, now)));
  const sourceMap = new Map(sources.map((s) => [s.id, s]));
  return { index, bySlot, sources: sourceMap, effects: new EffectBuilder(index, sourceMap, settings) };
}
