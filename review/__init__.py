"""emotrace's review app: the library of analysed calls and the web interface over it.

    store   the call library (SQLite + a data folder), annotations, migrations
    auth    reviewer accounts (bcrypt hashes from a file or the environment)
    i18n    interface strings in English and Simplified Chinese
    views   what the app shows, as plain rows and strings (tested without a browser)
    plots   the plotly emotion timeline
    ui/     the Gradio app: one module per tab, wired in ``ui/layout.py``

The app calls the engine only through ``analyzer``'s public API. Importing this package (or store,
auth, i18n, views, plots) does not load Gradio; ``review.ui`` does.
"""
