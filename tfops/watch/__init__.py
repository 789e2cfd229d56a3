"""`tfops watch`: a reconciler for the environments repo, as Argo CD is for Kubernetes.

It keeps everything it needs in a state directory:

    <state>/checkout/<repo>/     its clone of REPO, at the watched branch's last commit
    <state>/checkout/<module>/   clones of the module repos the environments' `../x` sources
                                 name, next to it as in the seed's layout, at their default
                                 branch (so `../modules/back_end` resolves as it does there)
    <state>/state.json           what it has seen and done; survives restarts
    <state>/watch.lock           one watcher per state directory

Each interval: fetch every clone (backing off exponentially while that fails); when the
branch moved, the environments the changed files affect are planned and — with
`apply: auto` — applied, `apply: manual` ones only planned; when a module repo's default
branch moved, the environments floating on it (a local path, no ref) likewise. On the
drift interval it checks every environment for drift and heals those configured to heal.
Applies hold the environment's lock and land in the plan store and the audit log. A run
that fails is logged and recorded, and the environment is retried with the next change; a
commit whose configuration can't even be read is skipped until the branch moves again.
With --listen it serves /healthz, /status and the overview page, and — with the Slack app's
signing secret set — /tfops commands from Slack (`tfops.chatops`), whose plans and applies
run as jobs in the loop, between passes, since they share its checkout.
SIGTERM or Ctrl-C stops it: terraform, if running, is asked to stop cleanly; the state is
saved; the exit code is 0 when it was idle and 130 when it interrupted work.
"""

from tfops.watch.reconciler import Watcher, exclusive
from tfops.watch.state import WatchOptions, backoff_seconds

__all__ = ["WatchOptions", "Watcher", "backoff_seconds", "exclusive"]
