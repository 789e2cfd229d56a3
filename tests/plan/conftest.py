from tests.plan.scenarios import real_plans

__all__ = ["real_plans"]
