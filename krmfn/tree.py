def format_tree(a,b): return ""
