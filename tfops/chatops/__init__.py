"""ChatOps: `/tfops` slash commands in Slack, answered by `tfops watch --listen`.

    commands.py   what people type: `deploy production`, `status`, …
    plans.py      the plans shown with an Apply button, each usable once
    respond.py    answers, posted to Slack's response URL and nowhere else
    service.py    parse → authorise → run through the pipeline → render → answer

The HTTP side (verifying Slack's signatures) is `tfops.server.slack`; the messages are
`tfops.render.blocks`; the watcher (`tfops.watch`) runs the jobs in its loop.
"""

from tfops.chatops.plans import ChatPlans
from tfops.chatops.service import ChatOps, Workspace

__all__ = ["ChatOps", "ChatPlans", "Workspace"]
