import type { ScenarioDef } from '../scenario.js';
import { attackScenarios } from './attacks.js';
import { basicScenarios } from './basic.js';
import { delegationScenarios } from './delegations.js';
import { formatScenarios } from './format.js';
import { keyScenarios } from './keys.js';
import { nameScenarios } from './names.js';
import { rootScenarios } from './root.js';
import { snapshotScenarios } from './snapshot.js';
import { targetsScenarios } from './targets.js';
import { timestampScenarios } from './timestamp.js';

/** Every scenario, in the order they are generated. */
export const ALL_SCENARIOS: ScenarioDef[] = [...basicScenarios, ...rootScenarios, ...timestampScenarios, ...snapshotScenarios, ...targetsScenarios, ...delegationScenarios, ...keyScenarios, ...attackScenarios, ...formatScenarios, ...nameScenarios];
