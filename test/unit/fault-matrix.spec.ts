// The fault matrix compares failed sets exactly and says what differs.
import { expect, test } from '@playwright/test';
import { failedSetDiff, resolveEntry } from '../faults/matrix.ts';
import type { Outcome } from '../faults/suite-runner.ts';

const o = (title: string, status: Outcome['status'], message = ''): Outcome => ({ title, status, message });
const outcomes = [
  o('masquerade › egress is hidden behind the pod IP', 'failed', 'Error: outgoing connection not masqueraded'),
  o('masquerade › ports list, same-node', 'passed'),
  o('masquerade › ports list, cross-node', 'timedOut', 'Test timeout of 300000ms exceeded'),
  o('masquerade › needs dual-stack', 'skipped'),
];

test('exact match: no lines', () => {
  expect(failedSetDiff(outcomes, { fail: ['egress', 'cross-node'], messages: { egress: /not masqueraded/ } })).toEqual([]);
});

test('a subset and a superset are both reported, with the outcome and message', () => {
  expect(failedSetDiff(outcomes, { fail: ['egress'] })).toEqual(['unexpected failure: masquerade › ports list, cross-node: Test timeout of 300000ms exceeded']);
  expect(failedSetDiff(outcomes, { fail: ['egress', 'cross-node', 'same-node'] })).toEqual(['missing failure: "same-node" → masquerade › ports list, same-node was passed']);
  expect(failedSetDiff(outcomes, { fail: ['egress', 'cross-node'], messages: { egress: /\[threshold\]/ } })).toEqual(['wrong message: "egress" → masquerade › egress is hidden behind the pod IP: expected /\\[threshold\\]/, got: Error: outgoing connection not masqueraded']);
});

test('entries must name exactly one test', () => {
  expect(() => resolveEntry(outcomes, 'ports list')).toThrow(/not unique/);
  expect(() => resolveEntry(outcomes, 'no such')).toThrow(/no test title contains "no such"/);
});
