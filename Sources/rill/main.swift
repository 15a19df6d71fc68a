import RillRuntime
print("rill")
