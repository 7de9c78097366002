// Compile-time check only: topology() fits test.extend's worker-fixture slot.
import { test, topology } from '../../src/fixtures/test.ts';
import { vm } from '../../src/kube/vm-spec.ts';
import type { LabVm } from '../../src/fixtures/lab.ts';

export const t = test.extend<{}, { pair: { a: LabVm } }>({ pair: topology('pair', async (s) => ({ a: await s.create(vm('a')) })) });
