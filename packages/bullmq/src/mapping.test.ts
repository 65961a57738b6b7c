import { describe, expect, it } from 'vitest';
import { taskIdFor, idempotencyKeyFor } from './ids.js';
import { streamIdBefore } from './lease.js';
import { RETRY_MESSAGE, STALLED_MESSAGE, actionFor, progressFields } from './mapping.js';

describe('actionFor', () => {
  it('maps each lifecycle event', () => {
    expect(actionFor('added', { jobId: '1', name: 'x' })).toEqual({ kind: 'create' });
    expect(actionFor('waiting', { jobId: '1' })).toBeNull();
    expect(actionFor('waiting', { jobId: '1', prev: 'delayed' })).toBeNull();
    expect(actionFor('waiting', { jobId: '1', prev: 'active' })).toEqual({
      kind: 'update',
      fields: { message: RETRY_MESSAGE },
    });
    expect(actionFor('delayed', { jobId: '1', delay: 1700000000000 })).toEqual({
      kind: 'delayed',
      until: 1700000000000,
    });
    expect(actionFor('active', { jobId: '1', prev: 'waiting' })).toEqual({
      kind: 'update',
      fields: { status: 'running' },
    });
    expect(actionFor('progress', { jobId: '1', data: 40 })).toEqual({ kind: 'update', fields: { progress: 40 } });
    expect(actionFor('progress', { jobId: '1', data: 'text' })).toBeNull();
    expect(actionFor('completed', { jobId: '1', returnvalue: { n: 1 } })).toEqual({
      kind: 'finish',
      fields: { status: 'succeeded', result: { n: 1 } },
    });
    expect(actionFor('completed', { jobId: '1', returnvalue: undefined })).toEqual({
      kind: 'finish',
      fields: { status: 'succeeded', result: null },
    });
    expect(actionFor('failed', { jobId: '1', failedReason: 'boom' })).toEqual({
      kind: 'finish',
      fields: { status: 'failed', error: { message: 'boom' } },
    });
    expect(actionFor('failed', { jobId: '1', failedReason: '' })).toMatchObject({
      fields: { error: { message: 'job failed' } },
    });
    expect(actionFor('stalled', { jobId: '1' })).toEqual({ kind: 'update', fields: { message: STALLED_MESSAGE } });
    expect(actionFor('removed', { jobId: '1', prev: 'wait' })).toEqual({
      kind: 'finish',
      fields: { status: 'cancelled', message: 'removed' },
    });
  });

  it('reads progress as a number or {pct | progress, stage, message}, clamped and clipped', () => {
    expect(progressFields(140)).toEqual({ progress: 100 });
    expect(progressFields({ pct: 12.5, stage: 'load', message: null })).toEqual({
      progress: 12.5,
      stage: 'load',
      message: null,
    });
    expect(progressFields({ progress: -3 })).toEqual({ progress: 0 });
    expect(progressFields({ stage: 's'.repeat(300) })?.stage).toHaveLength(100);
    expect(progressFields({ other: 1 })).toBeNull();
    expect(progressFields(Number.NaN)).toBeNull();
  });
});

describe('ids', () => {
  it('names a job the same way every time, within the id grammar', () => {
    expect(taskIdFor('reports', '42')).toBe('bullmq-reports-42');
    expect(taskIdFor('reports', '42', 'staging')).toBe('staging-reports-42');
    const odd = taskIdFor('reports', 'user:7/import');
    expect(odd).toMatch(/^bullmq-h-[0-9a-f]{40}$/);
    expect(taskIdFor('reports', 'user:7/import')).toBe(odd);
    expect(taskIdFor('reports', 'user:7/other')).not.toBe(odd);
    expect(taskIdFor('q', 'x'.repeat(200)).length).toBeLessThanOrEqual(128);
    expect(idempotencyKeyFor('bullmq-reports-42')).toBe('taskwire.bullmq:bullmq-reports-42');
  });

  it('orders stream ids by time, then sequence', () => {
    expect(streamIdBefore('1700-1', '1700-2')).toBe(true);
    expect(streamIdBefore('1700-9', '1701-0')).toBe(true);
    expect(streamIdBefore('1701-0', '1700-9')).toBe(false);
    expect(streamIdBefore('1700-1', '1700-1')).toBe(false);
  });
});
