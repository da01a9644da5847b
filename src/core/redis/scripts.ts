// The Lua scripts of ./lua, read once at load time. File names are `name-<numKeys>.lua`, or
// `name.lua` when the number of keys varies; each file's header states its KEYS and ARGV.
import { readFileSync } from 'node:fs';

function load(file: string): string {
  return readFileSync(new URL(`./lua/${file}`, import.meta.url), 'utf8');
}

export const scripts = {
  reboundCommit: load('commit.lua'),
  reboundDeadLetter: load('dead-letter-3.lua'),
  reboundTrim: load('trim-1.lua'),
  reboundGroupCreate: load('group-create-1.lua'),
  reboundGroupsInfo: load('groups-info-1.lua'),
  reboundLease: load('lease-1.lua'),
  reboundMembers: load('members-1.lua'),
  reboundDetectLoad: load('detect-load.lua'),
  reboundDetectApply: load('detect-apply.lua'),
  reboundDetectFire: load('detect-fire.lua'),
  reboundDetectWatermark: load('detect-watermark-1.lua'),
  reboundDeliverClaim: load('deliver-claim.lua'),
  reboundDeliverTake: load('deliver-take.lua'),
  reboundDeliverRecord: load('deliver-record.lua'),
  reboundDeliverReceipt: load('deliver-receipt-1.lua'),
  reboundDefsApply: load('defs-apply.lua'),
  reboundJournalPosition: load('journal-position-1.lua'),
  reboundDlqReplay: load('dlq-replay-2.lua'),
  reboundDlqPurge: load('dlq-purge-1.lua'),
  reboundCampaignCommit: load('campaign-commit.lua'),
  reboundFatigue: load('fatigue-1.lua'),
  reboundVisitorsRead: load('visitors-read.lua'),
  reboundGroupDestroy: load('group-destroy-1.lua'),
  reboundProofAppend: load('proof-append-2.lua'),
};

export type ScriptName = keyof typeof scripts;
