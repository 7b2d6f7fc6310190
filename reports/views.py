def home(r): pass
def report_form(r): pass
def report_received(r): pass
