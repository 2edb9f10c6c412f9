"""The run report: ``report.json`` (:mod:`lab.report.model`) and its picture, ``timeline.png`` (:mod:`lab.report.timeline`)."""
