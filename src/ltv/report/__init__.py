"""The report: one self-contained HTML page of charts, written next to the served file.

It reads only the served file (what a BI user may see) and discovers versions, sources and models
from the tables, so a new model version or text source shows up without a change here. Charts are
matplotlib figures inlined as SVG: the page needs no network and no JavaScript to be viewed.
"""

REPORT_FILE_NAME = "ltv_report.html"
