"""Reports: saved runs turned into documents a person reads (Markdown, HTML, JSON) and plots.

- `report`: the data model of one machine's runs (matrix, verdicts, change points, sweep).
- `render`, `render_html`: that model in Markdown and as one self-contained HTML page.
- `machines`, `abreport`, `sweeptables`, `cadence`, `comparison`: the other reports' models and words.
- `plots`, `sweepplots`: matplotlib figures (no display), as PNG bytes.
- `publish`: which files a report consists of, written all or nothing.
"""
