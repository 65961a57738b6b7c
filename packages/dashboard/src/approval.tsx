/** The approval prompt of an `awaiting_approval` task: Approve / Reject with an optional comment. */
import { useId, useState, type ReactElement } from 'react';
import type { Task } from '@taskwire/client';
import { useDashboard } from './hooks.js';

export function ApprovalPanel(props: { task: Task }): ReactElement | null {
  const { api } = useDashboard();
  const { task } = props;
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState<'approve' | 'reject' | null>(null);
  const [error, setError] = useState<string | null>(null);
  const commentId = useId();
  const approval = task.approval;
  if (!approval || task.status !== 'awaiting_approval') return null;

  const decide = (decision: 'approve' | 'reject'): void => {
    setBusy(decision);
    setError(null);
    api.decide(task.id, decision, comment.trim() || undefined).then(
      () => setBusy(null),
      (err: unknown) => {
        setBusy(null);
        setError(err instanceof Error ? err.message : String(err));
      },
    );
  };

  return (
    <section className="approval" aria-labelledby={`${commentId}-h`}>
      <h3 id={`${commentId}-h`}>Waiting for approval</h3>
      <p className="prompt">{approval.prompt}</p>
      <label htmlFor={commentId}>Comment (optional)</label>
      <textarea id={commentId} rows={2} value={comment} onChange={(e) => setComment(e.target.value)} />
      <div className="actions">
        <button type="button" className="primary" disabled={busy !== null} onClick={() => decide('approve')}>
          {busy === 'approve' ? 'Approving…' : 'Approve'}
        </button>
        <button type="button" className="danger" disabled={busy !== null} onClick={() => decide('reject')}>
          {busy === 'reject' ? 'Rejecting…' : 'Reject'}
        </button>
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
