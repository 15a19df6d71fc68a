import RillFormat
