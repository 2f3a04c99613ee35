"""One SQS batch of S3 notifications through the service: track each file, then count the new files per date
(one counter write per date, not per file) and start the batches that became full."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline.control_plane.adapters.backoff import describe, error_code
from pipeline.control_plane.domain.events import parse_sqs_body
from pipeline.control_plane.domain.keys import extract_date_prefix

if TYPE_CHECKING:
    from pipeline.control_plane.service import ControlPlane


@dataclass
class MessageOutcome:
    tracked: int = 0
    duplicates: int = 0
    ignored: int = 0
    test_event: bool = False


class IngestSession:
    """One SQS batch: tracks each message's files, then adds the new files to the date counters (one write
    per date) and starts the batches that became full."""

    def __init__(self, service: ControlPlane) -> None:
        self.service = service
        self.new_by_date: dict[str, list[int]] = {}
        self.outcome = MessageOutcome()

    def handle_message(self, body: str | None) -> MessageOutcome:
        parsed = parse_sqs_body(body)
        outcome = MessageOutcome(test_event=parsed.test_event)
        if parsed.test_event:
            self.service.log.info("s3:TestEvent acknowledged")
            return outcome
        for event in parsed.records:
            tracked = self.service.track(event)
            if tracked is None:
                outcome.ignored += 1
            elif tracked:
                outcome.tracked += 1
                date_prefix = extract_date_prefix(event.key, event.event_time)
                totals = self.new_by_date.setdefault(date_prefix, [0, 0])
                totals[0] += 1
                totals[1] += event.size
            else:
                outcome.duplicates += 1
        self.outcome.tracked += outcome.tracked
        self.outcome.duplicates += outcome.duplicates
        self.outcome.ignored += outcome.ignored
        return outcome

    def close(self) -> list[str]:
        """Count the new files and start full batches. Failures here never fail the SQS messages (their files
        are tracked): they are logged, and the flush catches up."""
        started: list[str] = []
        budget = self.service.config.max_manifests_per_invocation
        for date_prefix, (count, total_bytes) in sorted(self.new_by_date.items()):
            try:
                counter = self.service.note_new_files(date_prefix, count, total_bytes)
                if self.service.policy.is_full(counter.pending_count, counter.pending_bytes):
                    started += self.service.start_due_batches(
                        date_prefix, counter, allow_partial=False, budget=budget - len(started)
                    )
            except Exception as exc:
                self.service.log.error(
                    "batching after tracking failed; the flush will pick the files up",
                    extra={"date_prefix": date_prefix, "cause": describe(exc), "error_code": error_code(exc)},
                )
        return started
