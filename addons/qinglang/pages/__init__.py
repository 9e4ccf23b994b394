"""Every page and text a child or a parent reads from the proxy: the block page, the time-up
page and rest reminder, the risk notice, the report and set-up pages, and their words in
Chinese and English."""
