-- Features one horizon before the cut-off, labelled with the net spend up to the cut-off: the
-- validation split user-value v4 tunes on, entirely inside the training period.
{{ user_features_as_of('validation_cutoff_date', with_label=true, label_end_column='cutoff_date') }}
