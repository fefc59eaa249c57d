"""The metric definitions as pure functions: rates from sums, quantiles by interpolation."""

from __future__ import annotations

import pytest

from hub.reports.figures import Sums, figures, quantile


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([], 0.5, None),
        ([7.0], 0.9, 7.0),
        ([1.0, 3.0], 0.5, 2.0),
        ([1800.0, 3600.0, 232200.0], 0.9, 186480.0),
        ([1.0, 2.0, 3.0, 4.0, 5.0], 0.5, 3.0),
    ],
)
def test_quantile_interpolates_between_ranks(
    values: list[float], p: float, expected: float
) -> None:
    assert quantile(values, p) == expected


def test_rates_from_sums() -> None:
    f = figures(
        {
            "sla_achieved": Sums(n=3),
            "sla_breached": Sums(n=1),
            "survey_sent": Sums(n=10),
            # Four answers: 5, 4, 2, 1.
            "survey_answered": Sums(n=4, value_sum=12, positive=2),
            "faq_answered": Sums(n=8),
            # Two chats went to a person after three FAQ answers between them.
            "bot_handover": Sums(n=2, value_sum=3),
            "first_response": Sums(
                n=2, seconds_n=2, seconds_sum=90.0, business_n=1, business_sum=30.0
            ),
            "reply": Sums(n=3, seconds_n=1, seconds_sum=10.0),
        },
        business=False,
    )
    assert (f.sla_achieved_pct, f.csat_pct, f.csat_response_rate) == (75.0, 50.0, 40.0)
    assert (f.bot_containment_pct, f.replies) == (62.5, 5)
    assert (f.first_response.count, f.first_response.mean) == (2, 45.0)
    assert (f.next_response.count, f.next_response.mean) == (1, 10.0)
    business = figures({"first_response": Sums(n=2, business_n=1, business_sum=30.0)}, True)
    assert (business.first_response.count, business.first_response.mean) == (1, 30.0)
    empty = figures({}, business=False)
    assert (empty.sla_achieved_pct, empty.csat_pct, empty.bot_containment_pct) == (None,) * 3
