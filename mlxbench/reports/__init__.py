"""Reports: saved runs turned into documents a person reads (Markdown, HTML, JSON) and plots.

- `report`: the data model of one machine's runs (matrix, verdicts, change points, sweep).
- `document`: one document of blocks, rendered as Markdown or one self-contained HTML page; every
  report below builds its document once and every format shows the same sections.
- `render`: the report's document, built from the model.
- `machines`, `abreport`, `sweeptables`, `cadence`, `comparison`: the other reports' models and words.
- `plots`, `sweepplots`: matplotlib figures (no display), as PNG bytes.
- `publish`: which files a report consists of, written all or nothing.
- `table`: the one verdict table every path prints and every report renders (terminal lines, document
  cells, JSON); `verdictlines`: the lines around it in pytest's terminal (the gate's summary, the unjudged).
"""
