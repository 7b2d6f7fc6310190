"""Reporter notices: e-mail telling a reporter who asked for it that their report was received and,
once its case is decided, whether action was taken (services.py says who, when, what and how)."""
