print("hssk")
