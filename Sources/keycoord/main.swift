print("keycoord")
