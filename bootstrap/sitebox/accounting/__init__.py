"""APEL accounting of the batch namespace: `sitebox accounting report|collect|publish`.

records  per-month summary records from the Jobs' own start and end times (pure)
apel     the APEL summary message those records are sent as (pure)
ledger   finished Jobs folded into a ConfigMap before their TTL deletes them
publish  the message in the outgoing queue of APEL's SSM client, one per month
commands the click commands
"""
