def dashboard(r): pass
review_next=case_detail=case_decide=case_skip=case_media=audit_log=dashboard
