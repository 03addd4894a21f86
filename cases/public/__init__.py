"""The public site (PUBLIC_SITE=1): read-only pages under /public/, without sign-in, in every language.

What they show comes from cases/access.py's public functions (`public_recommendations`,
`public_assessments`, `public_evidence`, `public_people`); how they are cached from `caching.py`.
"""
