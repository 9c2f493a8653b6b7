-- Features of every user who had signed up by the cut-off, and the label: net spend in
-- (cut-off, cut-off + horizon]. Models train on these.
{{ user_features_as_of('cutoff_date', with_label=true) }}
