"""Dispatch: which companies may take a ticket and in what order they are suggested
(:mod:`eligibility`, :mod:`reputation`), handing a ticket to one and the company's answers
(:mod:`service`), and telling the company by email and signed webhook (:mod:`notify`, pure;
:mod:`notifier`, the background delivery service)."""
