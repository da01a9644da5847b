// The registry of benchmark scenarios: name → scenario. `npm run bench -- <name>…` runs the named
// ones, `npm run bench` all of them, in this order (also the order of docs/benchmarks.md).
import type { Scenario } from './support/harness.js';
import { campaignScenario } from './scenarios/campaign.js';
import { deliverScenario } from './scenarios/deliver.js';
import { detectScenario } from './scenarios/detect.js';
import { e2eScenario } from './scenarios/e2e.js';
import { ingestScenario } from './scenarios/ingest.js';
import { runtimeScenario } from './scenarios/runtime.js';
import { scaleoutScenario } from './scenarios/scaleout.js';

export const scenarios: Readonly<Record<string, Scenario>> = {
  runtime: runtimeScenario,
  ingest: ingestScenario,
  detect: detectScenario,
  deliver: deliverScenario,
  campaign: campaignScenario,
  e2e: e2eScenario,
  scaleout: scaleoutScenario,
};
