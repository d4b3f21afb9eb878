"""emotrace's review app: the library of analysed calls and the web interface over it.

    store   the call library (SQLite + a data folder), annotations; re-exports the names below
    records the store's records (calls, annotations, filters) and StoreError
    migrations  the numbered schema migrations (MIGRATIONS, SCHEMA_VERSION)
    audit   the audit log and consent/retention methods (a mixin of Store)
    auth    reviewer accounts (bcrypt hashes from a file or the environment)
    i18n    interface strings in English and Simplified Chinese
    views   what the app shows, as plain rows and strings (tested without a browser)
    plots   the plotly emotion timeline
    ui/     the Gradio app: one module per tab, wired in ``ui/layout.py``

The app calls the engine only through ``analyzer``'s public API. Importing this package (or store,
auth, i18n, views, plots) does not load Gradio; ``review.ui`` does.
"""
