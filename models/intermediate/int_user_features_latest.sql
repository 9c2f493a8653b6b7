-- The same features as of the latest order date, for scoring every user (no label yet).
{{ user_features_as_of('scoring_date', with_label=false) }}
