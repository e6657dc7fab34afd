kplan.readonly()
kplan.log("checked")
