"""The benchmarks' checks: each prints as it is made, and any problem makes the run exit 1.
Shared by the benchmarks that import it (sms_webhook and webchat_poll keep their own lines)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Checks:
    """Every check prints as it is made; problems make the exit status non-zero. Findings are
    worth reading but fail nothing (e.g. a query slower than its baseline)."""

    problem_label: str = "PROBLEM"
    # A --quick run shows the benchmark works on whatever machine runs it: an aim it misses
    # there is worth reading, not a failure (its correctness checks still fail the run).
    aims_are_findings: bool = False
    problems: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)

    def expect(self, what: str, got: object, want: object) -> None:
        if got == want:
            print(f"  ok: {what}: {got}")
        else:
            self.fail(f"{what}: {got}, expected {want}")

    def fail(self, problem: str) -> None:
        print(f"  {self.problem_label}: {problem}")
        self.problems.append(problem)

    def missed_aim(self, what: str) -> None:
        if self.aims_are_findings:
            self.finding(f"{what} (a --quick run: not a measurement)")
        else:
            self.fail(what)

    def finding(self, what: str) -> None:
        print(f"  FINDING: {what}")
        self.findings.append(what)

    def exit_status(self) -> int:
        """Print the verdict; the process's exit status (1 when any check failed)."""
        if self.problems:
            print(f"FAILED: {len(self.problems)} check(s)")
            return 1
        print("all checks ok")
        return 0
