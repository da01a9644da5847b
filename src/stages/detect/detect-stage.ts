// The detect stage: reads hit entries, evaluates them against the trigger index, and applies
// the visitor-state updates and timer arming of the whole batch in one Lua call that also
// acknowledges the entries (lua/detect-apply.lua), so a batch is applied exactly once.
import { encodePlain } from '../../core/codec.js';
import { ReboundError } from '../../core/errors.js';
import type { RedisPort } from '../../core/redis/client.js';
import type { Keys } from '../../core/redis/keys.js';
import type { Hit } from '../../model/hit.js';
import { acknowledged, type StageDefinition } from '../runtime/stage.js';
import type { DetectDefinitions } from './definitions.js';

export const detectGroup = 'detect';

export function detectStage(redis: RedisPort, keys: Keys, definitions: () => DetectDefinitions): StageDefinition<Hit[]> {
  return {
    name: detectGroup,
    input: 'hits',
    async process(items, partition) {
      const entries = items.map((item) => {
        if (!Array.isArray(item.value)) throw new ReboundError('CODEC_DECODE_FAILED', 'a hits entry must hold an array of hits');
        return { id: item.id, hits: item.value.filter((hit) => typeof hit?.visitorId === 'string' && typeof hit.id === 'string') };
      });
      const { keys: visitorKeys, plan } = definitions().builder.build(partition, entries);
      await redis.script('reboundDetectApply', [keys.stream(partition, 'hits'), keys.timers(partition), ...visitorKeys], [detectGroup, encodePlain(plan)]);
      return items.map(() => acknowledged());
    },
  };
}
